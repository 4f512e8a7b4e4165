"""Blobs under bucket/key on local disk or in an S3-compatible bucket, behind one interface."""

from lakehouse.blobs.base import BlobInfo, BlobPage, BlobRead, BlobStore, resolve_range
from lakehouse.blobs.local import LocalBlobStore
from lakehouse.blobs.names import MAX_KEY_BYTES, validate_bucket, validate_key
from lakehouse.blobs.s3 import S3BlobStore
from lakehouse.config import Settings

__all__ = [
    "MAX_KEY_BYTES",
    "BlobInfo",
    "BlobPage",
    "BlobRead",
    "BlobStore",
    "LocalBlobStore",
    "S3BlobStore",
    "open_blob_store",
    "resolve_range",
    "validate_bucket",
    "validate_key",
]


def open_blob_store(settings: Settings) -> BlobStore:
    """The blob store the settings name."""
    if settings.storage.backend == "s3":
        return S3BlobStore(settings.storage.s3)
    return LocalBlobStore(settings.in_data_dir(settings.storage.local_root))
