import asyncio
import ipaddress

import pytest

from pipeline.fetch.client import Fetcher, FetchError
from pipeline.fetch.guard import AddressPolicy, BlockedAddress, classify


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("172.16.5.4", "private"),
        ("169.254.169.254", "link-local"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fc00::5", "private"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("100.64.0.1", "non-global"),
        ("240.0.0.1", "private"),
        # IPv6 forms that deliver to an embedded IPv4 address are judged by that address
        ("2002:a9fe:a9fe::", "6to4-embedded link-local"),  # 169.254.169.254 via 6to4
        ("2002:7f00:1::1", "6to4-embedded loopback"),
        ("2002:0a00:0001:1234::5", "6to4-embedded private"),
        ("64:ff9b::a9fe:a9fe", "NAT64-embedded link-local"),
        ("64:ff9b::7f00:1", "NAT64-embedded loopback"),
        ("64:ff9b::c0a8:1", "NAT64-embedded private"),
        ("64:ff9b:1::a00:1", "private"),  # local-use NAT64 prefix
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "teredo"),
        ("2001::1", "teredo"),
        ("fec0::1", "site-local"),
        ("feff:ffff::1", "site-local"),
        ("192.0.0.1", "ietf-protocol"),
        ("192.0.0.9", "ietf-protocol"),
        ("192.0.0.170", "ietf-protocol"),
        ("::ffff:192.0.0.10", "ietf-protocol"),
    ],
)
def test_non_public_addresses_are_classified(address: str, why: str) -> None:
    assert classify(ipaddress.ip_address(address)) == why


@pytest.mark.parametrize(
    "address",
    [
        "93.184.216.34",
        "2606:2800:220:1:248:1893:25c8:1946",
        "2002:5db8:d822::1",  # 6to4 of a public address
        "64:ff9b::5db8:d822",  # NAT64 (DNS64 answers on IPv6-only networks)
        "192.0.1.1",
    ],
)
def test_public_addresses_pass(address: str) -> None:
    assert classify(ipaddress.ip_address(address)) is None


def _resolver(answers: dict[str, list[str]]):
    async def resolve(host: str, port: int) -> list[str]:
        return answers[host]

    return resolve


DNS = {
    "loop.example": ["127.0.0.1"],
    "ten.example": ["10.0.0.7"],
    "meta.example": ["169.254.169.254"],
    "six.example": ["::1"],
    "mixed.example": ["93.184.216.34", "10.0.0.1"],
    "public.example": ["93.184.216.34"],
    "sixtofour.example": ["2002:a9fe:a9fe::1"],
    "nat64.example": ["64:ff9b::a9fe:a9fe"],
}


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("loop.example", "127.0.0.1"),
        ("ten.example", "10.0.0.7"),
        ("meta.example", "169.254.169.254"),
        ("six.example", "::1"),
        ("mixed.example", "10.0.0.1"),
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]", "::1"),
    ],
)
def test_dns_answers_are_checked(host: str, address: str) -> None:
    policy = AddressPolicy("", resolve=_resolver(DNS))
    with pytest.raises(BlockedAddress) as info:
        asyncio.run(policy.checked_addresses(host, 80))
    assert info.value.address == address
    assert "refused to connect" in str(info.value)


def test_public_answer_and_allowed_network_pass() -> None:
    policy = AddressPolicy("127.0.0.0/8, ::1/128", resolve=_resolver(DNS))
    assert asyncio.run(policy.checked_addresses("public.example", 80)) == ["93.184.216.34"]
    assert asyncio.run(policy.checked_addresses("loop.example", 80)) == ["127.0.0.1"]
    assert asyncio.run(policy.checked_addresses("six.example", 80)) == ["::1"]
    with pytest.raises(BlockedAddress):  # loopback allowed does not open 10/8
        asyncio.run(policy.checked_addresses("ten.example", 80))


@pytest.mark.parametrize(
    "address", ["2002:a9fe:a9fe::1", "64:ff9b::a9fe:a9fe", "fec0::1", "2001::1", "192.0.0.8"]
)
def test_embedded_and_special_forms_are_refused_until_allowed(address: str) -> None:
    assert AddressPolicy("").refusal(address) is not None
    assert AddressPolicy("10.0.0.0/8").refusal(address) is not None
    allow = "169.254.0.0/16" if "a9fe" in address else f"{address}/128"
    if "." in address:
        allow = "192.0.0.0/24"
    assert AddressPolicy(allow).refusal(address) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://loop.example/feed",
        "http://ten.example/feed",
        "http://meta.example/latest/meta-data/",
        "http://six.example/",
        "http://127.0.0.1:1/",
        "http://[::1]:1/",
        "http://10.0.0.1/",
        "http://sixtofour.example/latest/meta-data/",
        "http://nat64.example/latest/meta-data/",
        "http://[2002:a9fe:a9fe::1]/latest/meta-data/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[fec0::1]/",
        "http://[2001::1]/",
        "http://192.0.0.1/",
    ],
)
def test_fetcher_refuses_before_connecting(url: str) -> None:
    async def go() -> FetchError:
        async with Fetcher(policy=AddressPolicy("", resolve=_resolver(DNS))) as fetcher:
            with pytest.raises(FetchError) as info:
                await fetcher.get(url)
            return info.value

    error = asyncio.run(go())
    assert error.reason == "blocked-address"
    assert "refused to connect" in error.detail
