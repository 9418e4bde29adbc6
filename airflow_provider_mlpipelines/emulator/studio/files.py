"""Read-only serving of the datastores' files (step outputs, data inputs) for the studio.

Nothing outside a datastore folder is ever served: the requested path must be relative, free of
``..`` and ``.`` parts (decoded or not), and its resolved target (symlinks followed) must still lie
inside the datastore. Files are sent as text or bytes, never as HTML, so that a file written by a
step cannot run script in the studio's origin.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from airflow_provider_mlpipelines.emulator.errors import EmulatorError, listing

#: Types sent as they are; any other text is sent as ``text/plain``, the rest as bytes.
_SHOWN_AS_IS = frozenset({"image/png", "image/jpeg", "image/gif", "application/json"})
_TEXT_SUFFIXES = frozenset({".csv", ".txt", ".log", ".json", ".yaml", ".yml", ".md", ".tsv"})
#: Headers of every served file: no sniffing into HTML, no script even if a browser tried.
FILE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; sandbox",
}


class PathRefused(EmulatorError):
    """A requested path tries to leave its datastore; the message says what was wrong."""

    def __init__(self, message: str) -> None:
        super().__init__(400, "InvalidDataPath", message)


@dataclass(frozen=True)
class Entry:
    """One entry of a listed folder: its name, path in the datastore and size (files)."""

    name: str
    path: str
    is_dir: bool
    size: int | None


def check_relative(raw: str) -> PurePosixPath:
    """The datastore-relative path of a request, refused if it could leave the datastore.

    :param raw: the path after ``/studio/files/{datastore}/`` (decoded once by the router;
        decoded again here, so that ``%2e%2e`` sent encoded twice is caught too).
    :raises PathRefused: for an absolute path, ``..``, ``.``, a backslash or a NUL.
    """
    decoded = unquote(raw)
    for text in (raw, decoded):
        if "\\" in text or "\x00" in text:
            raise PathRefused(f"Path '{raw}' must use '/' separators and no NUL character")
        if text.startswith("/"):
            raise PathRefused(f"Path '{raw}' must be relative to the datastore, not absolute")
        parts = [part for part in text.split("/") if part]
        if any(part in ("..", ".") for part in parts):
            raise PathRefused(f"Path '{raw}' must not contain '..' or '.' parts")
    return PurePosixPath(*[part for part in raw.split("/") if part])


def resolve_in(roots: dict[str, Path], datastore: str, raw: str) -> Path:
    """The local file or folder a studio file URL names, inside its datastore.

    :param roots: datastore name -> its resolved folder.
    :param datastore: the datastore in the URL.
    :param raw: the rest of the URL's path.
    :raises EmulatorError: 404 for an unknown datastore or a missing file; 400
        (:class:`PathRefused`) for a path or symlink leaving the datastore.
    """
    root = roots.get(datastore)
    if root is None:
        raise EmulatorError(
            404,
            "DataStoreNotFound",
            f"Datastore '{datastore}' does not exist; datastores: {listing(sorted(roots))}",
        )
    relative = check_relative(raw)
    target = root.joinpath(*relative.parts)
    try:
        resolved = target.resolve(strict=True)
    except (OSError, RuntimeError):
        raise EmulatorError(
            404, "NotFound", f"'{relative}' does not exist in datastore '{datastore}'"
        ) from None
    if not resolved.is_relative_to(root):
        raise PathRefused(f"Path '{relative}' leads outside datastore '{datastore}'")
    return resolved


def list_folder(root: Path, folder: Path) -> list[Entry]:
    """The entries of a datastore folder, folders first; links leaving the datastore omitted.

    :param root: the datastore's resolved folder.
    :param folder: a resolved folder inside it.
    """
    entries = []
    for child in sorted(folder.iterdir(), key=lambda p: (not p.is_dir(), p.name)):
        try:
            resolved = child.resolve(strict=True)
        except (OSError, RuntimeError):
            continue
        if not resolved.is_relative_to(root):
            continue
        relative = child.relative_to(root).as_posix()
        is_dir = resolved.is_dir()
        entries.append(
            Entry(child.name, relative, is_dir, None if is_dir else child.stat().st_size)
        )
    return entries


def content_type(path: Path) -> str:
    """What a file is sent as: a few safe types as they are, other text as plain text.

    :param path: the file.
    """
    guessed, _ = mimetypes.guess_type(path.name)
    if guessed in _SHOWN_AS_IS:
        return guessed
    if path.suffix.lower() in _TEXT_SUFFIXES or (guessed or "").startswith("text/"):
        return "text/plain"
    return "application/octet-stream"
