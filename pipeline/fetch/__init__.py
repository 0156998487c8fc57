"""Safe HTTP fetching for feeds and article pages.

``client.Fetcher`` is the one way the pipeline reads the web: every connection goes to an
address checked by ``guard`` at connect time, redirects are followed by hand with a check
per hop, and size, time and content type are bounded. ``robots`` caches robots.txt rules.
"""

from pipeline.fetch.client import Fetcher, FetchError, FetchResponse
from pipeline.fetch.guard import AddressPolicy, BlockedAddress

__all__ = ["AddressPolicy", "BlockedAddress", "FetchError", "FetchResponse", "Fetcher"]
