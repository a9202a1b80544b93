"""Write the xlwings.conf that lets Excel find the xl-segments formulas (UDF Modules: udfs).

xlwings' VBA reads its settings from, in order: an ``xlwings.conf`` sheet in the workbook,
an ``xlwings.conf`` file next to the workbook, then the user's file
(``%USERPROFILE%\\.xlwings\\xlwings.conf`` on Windows,
``~/Library/Containers/com.microsoft.Excel/Data/xlwings.conf`` on macOS). Each file line is
``"KEY","value"``, read with VBA's ``Input #`` (keys compared case-insensitively), so values
cannot contain double quotes.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

from xl_segments.errors import WorkbookError

CONFIG_NAME = "xlwings.conf"
UDF_MODULE = "udfs"
_PAIR = re.compile(r'"([^"]*)"')


def default_config_folder(platform: str = sys.platform) -> Path:
    """The folder of the user's xlwings.conf, where xlwings' add-in looks for it."""
    if platform.startswith("darwin"):
        return Path.home() / "Library" / "Containers" / "com.microsoft.Excel" / "Data"
    return Path.home() / ".xlwings"


def interpreter_key(platform: str = sys.platform) -> str:
    """INTERPRETER_WIN / INTERPRETER_MAC: the keys xlwings' VBA reads first on each system."""
    if platform.startswith("darwin"):
        return "INTERPRETER_MAC"
    if platform.startswith("win"):
        return "INTERPRETER_WIN"
    return "INTERPRETER"


def default_interpreter(executable: str = sys.executable, platform: str = sys.platform) -> str:
    """This Python; on Windows its pythonw.exe when present (no console window flashes)."""
    path = Path(executable)
    if platform.startswith("win") and path.name.lower() == "python.exe":
        windowless = path.with_name("pythonw.exe")
        if windowless.exists():
            return str(windowless)
    return str(path)


def udf_module_folders() -> list[str]:
    """Folders that must be on Python's path for Excel: the one holding udfs.py (the repo or
    site-packages) and the one holding the xl_segments package, if different."""
    folders: list[str] = []
    for name in (UDF_MODULE, "xl_segments"):
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise WorkbookError(
                f"The {name} module is not installed in this Python; install xl-segments first."
            )
        origin = Path(spec.origin).resolve()
        folder = origin.parent if name == UDF_MODULE else origin.parent.parent
        if str(folder) not in folders:
            folders.append(str(folder))
    return folders


def config_entries(interpreter: str | None = None, platform: str = sys.platform) -> dict[str, str]:
    """The settings xl-segments needs, in the order they are written."""
    return {
        interpreter_key(platform): interpreter or default_interpreter(platform=platform),
        "PYTHONPATH": ";".join(udf_module_folders()),
        "UDF Modules": UDF_MODULE,
    }


def read_config(path: Path) -> dict[str, str]:
    """An xlwings.conf file as a dict (keys as written), the way xlwings parses it."""
    entries: dict[str, str] = {}
    if not path.is_file():
        return entries
    for line in path.read_text().splitlines():
        values = _PAIR.findall(line)
        if len(values) >= 2:
            entries[values[0]] = values[1]
    return entries


def write_xlwings_conf(
    folder: Path, interpreter: str | None = None, platform: str = sys.platform
) -> Path:
    """Write (or update) folder/xlwings.conf so Excel imports the formulas of udfs.py.

    Keeps the other settings of an existing file; ours replace entries with the same key
    (compared case-insensitively, as xlwings does). Returns the file's path.
    """
    folder = Path(folder)
    ours = config_entries(interpreter, platform)
    for key, value in ours.items():
        if '"' in value:
            raise WorkbookError(f"The {key} setting cannot contain a double quote: {value}")
    path = folder / CONFIG_NAME
    kept = {k: v for k, v in read_config(path).items() if k.casefold() not in _folded(ours)}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lines = [f'"{k}","{v}"' for k, v in {**kept, **ours}.items()]
        # Written as xlwings' own "xlwings config create" writes it: text mode, the locale's
        # encoding (the ANSI code page VBA's Input # reads on Windows), no byte-order mark.
        path.write_text("\n".join(lines) + "\n")
    except OSError as exc:
        raise WorkbookError(f"Cannot write {path}: {exc.strerror or exc}.") from None
    return path


def _folded(entries: dict[str, str]) -> set[str]:
    return {k.casefold() for k in entries}
