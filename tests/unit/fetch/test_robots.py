import asyncio

import httpx

from pipeline.fetch.client import FetchError, FetchResponse
from pipeline.fetch.robots import RobotsCache


class RobotsFetcher:
    def __init__(self, answers: dict[str, object]) -> None:
        self.answers, self.calls = answers, 0

    async def get(self, url: str, **_: object) -> FetchResponse:
        self.calls += 1
        answer = self.answers[url]
        if isinstance(answer, FetchError):
            raise answer
        status, body = answer  # type: ignore[misc]
        return FetchResponse(url=url, status=status, headers=httpx.Headers(), content=body)


def _check(answers: dict[str, object], *urls: str) -> tuple[list[tuple[bool, str]], int]:
    fetcher = RobotsFetcher(answers)
    cache = RobotsCache(fetcher, "Wirewatch/0.1")  # type: ignore[arg-type]

    async def go() -> list[tuple[bool, str]]:
        return [await cache.check(url) for url in urls]

    return asyncio.run(go()), fetcher.calls


def test_rules_are_applied_and_cached_per_origin() -> None:
    robots = b"User-agent: *\nDisallow: /private/\n"
    results, calls = _check(
        {"https://a.example/robots.txt": (200, robots)},
        "https://a.example/news/1",
        "https://a.example/private/2",
        "https://a.example/news/3",
    )
    assert [r[0] for r in results] == [True, False, True]
    assert results[1][1] == "disallowed by https://a.example/robots.txt"
    assert calls == 1


def test_rfc9309_status_handling() -> None:
    answers = {
        "https://gone.example/robots.txt": (404, b""),
        "https://down.example/robots.txt": (503, b""),
        "https://dead.example/robots.txt": FetchError("connect", "refused", "x"),
    }
    results, _ = _check(
        answers, "https://gone.example/a", "https://down.example/a", "https://dead.example/a"
    )
    assert results[0] == (True, "")
    assert results[1] == (False, "robots.txt answered HTTP 503")
    assert results[2] == (False, "robots.txt unavailable (connect)")
