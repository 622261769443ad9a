"""The tenants file as a running process holds it: read at start, re-read when it changes.

The gateway and the stream workers both serve from the file and re-read it without a
restart, and they may not import each other, so this lives in schemas although it is
the one module here that touches the file system (and logs): its only dependencies are
the standard library and schemas.tenants, the rules it holds.
"""

import logging
import os
from pathlib import Path

from schemas.tenants import TenantDirectory, TenantsFileError

log = logging.getLogger(__name__)

TENANTS_FILE_VARIABLE = "SWITCHBOARD_TENANTS_FILE"


def open_registry(path: str | os.PathLike[str] | None) -> "TenantRegistry":
    """The configured file's registry, or TenantsFileError in one line naming the variable
    and the path: both services report a missing file alike, and stop."""
    if path is None:
        raise TenantsFileError(f"{TENANTS_FILE_VARIABLE} is not set: the tenants file is required")
    return TenantRegistry(path)


class TenantRegistry:
    """Holds the current TenantDirectory and swaps it when the file changes.

    A reload that fails (unreadable, bad YAML, bad schema) is logged and the previous
    directory stays in force, so a broken edit never locks every sender out.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._stamp: tuple[int, int, int] | None = None
        self._current = self._read()

    @property
    def current(self) -> TenantDirectory:
        return self._current

    def _file_stamp(self) -> tuple[int, int, int]:
        st = self.path.stat()
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _read(self) -> TenantDirectory:
        try:
            stamp = self._file_stamp()
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            reason = exc.strerror or exc
            raise TenantsFileError(
                f"cannot read {TENANTS_FILE_VARIABLE}={self.path}: {reason}"
            ) from exc
        # Remember this version even if it is refused, so a broken file is reported once,
        # not on every request, and is read again only when it changes again.
        self._stamp = stamp
        directory = TenantDirectory.from_yaml(text)
        for warning in directory.warnings:
            log.warning("tenants file %s: %s", self.path, warning)
        return directory

    def reload(self) -> bool:
        """Re-read the file now (e.g. on SIGHUP). True if a new version took effect."""
        try:
            self._current = self._read()
        except TenantsFileError as exc:
            log.error("tenants file %s refused, keeping the previous one: %s", self.path, exc)
            return False
        log.info("tenants file %s loaded", self.path)
        return True

    def reload_if_changed(self) -> bool:
        """Reload when the file's mtime, size or inode changed since it was last read.

        A refused version counts as read: it is not parsed (nor reported) again until the
        file changes again.
        """
        try:
            stamp = self._file_stamp()
        except OSError as exc:
            log.error("tenants file %s unreadable, keeping the previous one: %s", self.path, exc)
            return False
        if stamp == self._stamp:
            return False
        return self.reload()
