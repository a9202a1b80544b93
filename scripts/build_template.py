"""Rebuild workbook_templates/segments_template.xlsx from xl_segments/workbook/template.py."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xl_segments.workbook.template import TEMPLATE_PATH, build_template


def main() -> None:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else TEMPLATE_PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    build_template(target)
    print(f"Wrote {target}")


if __name__ == "__main__":
    main()
