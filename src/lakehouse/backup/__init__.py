"""Online backup and restore of a whole lakehouse: ``take_backup`` (writes continue meanwhile), ``verify_backup``
and ``restore_backup``; a backup is a directory, a ``.tar.zst`` file or an ``s3://`` prefix, with a ``Manifest`` of
every file's size and SHA-256."""

from lakehouse.backup.manifest import FORMAT, FileEntry, Manifest
from lakehouse.backup.restore import RestoreReport, restore_backup, verify_backup
from lakehouse.backup.take import take_backup

__all__ = ["FORMAT", "FileEntry", "Manifest", "RestoreReport", "restore_backup", "take_backup", "verify_backup"]
