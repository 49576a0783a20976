"""A minimal URL canonicalizer, private to extraction.

``bot/urls.py: canonicalize_url`` is the project's one; this stands in until it
exists (see ``_canonical`` in ``_meta.py``), and only lower-cases the scheme and
host, drops the fragment and the tracking parameters.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_TRACKING = re.compile(
    r"^(?:utm_\w+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|mc_cid|mc_eid|igshid|yclid|_ga|_gl|"
    r"ocid|cmpid|smid|mbid|ncid|sr_share|at_medium|at_campaign|spm|share|ref_src|ref_url)$",
    re.IGNORECASE,
)


def canonicalize_url(url: str) -> str:
    """``url`` without tracking parameters or fragment, scheme and host in lower case."""
    parts = urlsplit(url.strip())
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)]
    netloc = parts.netloc.lower()
    if (parts.scheme == "http" and netloc.endswith(":80")) or (
        parts.scheme == "https" and netloc.endswith(":443")
    ):
        netloc = netloc.rsplit(":", 1)[0]
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", urlencode(query), ""))
