"""Rules for bucket names and blob keys, checked before a name becomes a path or an object key."""

from __future__ import annotations

import re

from lakehouse.errors import InvalidBucket, InvalidKey

MAX_KEY_BYTES = 1024
MAX_SEGMENT_BYTES = 255  # one path component on the local store's file systems; held on S3 too, so keys move freely
BUCKET_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
# Recorded request and answer bodies too large to keep inline (``record.max_body_bytes``): every tenant's traffic,
# so only an admin key bound to no tenant or namespace reaches this bucket (as ``replay.*`` over SQL).
RECORDINGS_BUCKET = "lakehouse-recordings"
#: keys in the OpenAPI document: no leading "/", no backslash or control character, no empty, "." or ".." segment
KEY_PATTERN = r"^(?!/)(?!.*(?:^|/)\.{0,2}(?:/|$))[^\\\x00-\x1f\x7f]+$"
_BUCKET = re.compile(BUCKET_PATTERN)


def validate_bucket(bucket: str) -> str:
    """A bucket is 3-63 characters of lowercase letters, digits, ``-`` and ``.``, like S3's."""
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise InvalidBucket(
            f"bucket {bucket!r} must be 3-63 characters of a-z, 0-9, '-' and '.', "
            "starting and ending with a letter or digit",
            field="bucket",
        )
    return bucket


def validate_key(key: str) -> str:
    """A key is 1-1024 UTF-8 bytes of ``/``-separated segments of 1-255 bytes, none ``.`` or ``..``.

    Any Unicode text is allowed, kept exactly as given (no normalization: an NFC and an NFD spelling are two keys,
    as on S3). Absolute keys, backslashes, NUL and other control characters and lone surrogates are refused: no key
    can name a file outside its bucket.
    """

    def bad(reason: str) -> InvalidKey:
        return InvalidKey(f"key {key[:80]!r}: {reason}", field="key")

    if not key:
        raise bad("must not be empty")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise bad(f"longer than {MAX_KEY_BYTES} bytes")
    if key.startswith("/"):
        raise bad("must not be absolute (starts with '/')")
    if "\\" in key:
        raise bad("must not contain a backslash")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in key):
        raise bad("must not contain NUL or control characters")
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in key):
        raise bad("must be valid UTF-8")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise bad("segments must not be empty, '.' or '..'")
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise bad(f"a segment is longer than {MAX_SEGMENT_BYTES} bytes")
    return key
