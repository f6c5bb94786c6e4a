"""Build texts.jsonl: Debian package descriptions, labelled by the package's archive section.

Usage (on Debian, after `apt-get update -o Acquire::Languages=en`):
    python3 data/build_texts.py /var/lib/apt/lists > data/texts.jsonl

Reads the bookworm main Packages index (Section, Description-md5) and its Translation-en
index (the long descriptions), keeps a few clearly different sections, drops boilerplate
(debug symbols, transitional, documentation-only and development packages) and duplicate texts,
and samples at most PER_SECTION texts from each section with a fixed seed.
"""

import json
import random
import re
import subprocess
import sys
from pathlib import Path

SECTIONS = ["games", "sound", "graphics", "database", "mail", "science"]
PER_SECTION = 500
MIN_CHARS, MAX_CHARS = 80, 1000
BOILERPLATE = re.compile(
    r"debug(ging)? symbols|transitional|dummy package|documentation for|development files|"
    r"header files|this package contains the (static|shared) librar|metapackage",
    re.IGNORECASE,
)


def read_index(path: Path) -> str:
    """Return an apt index as text; apt-helper decompresses whatever apt stored (lz4, xz, gz)."""
    if path.suffix in (".lz4", ".xz", ".gz"):
        command = ["/usr/lib/apt/apt-helper", "cat-file", str(path)]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return path.read_text(encoding="utf-8")


def stanzas(text: str):
    """Yield each deb822 stanza as a dict; continuation lines are joined with newlines."""
    for block in text.split("\n\n"):
        fields, key = {}, None
        for line in block.splitlines():
            if line.startswith((" ", "\t")) and key:
                fields[key] += "\n" + line[1:]
            elif ":" in line:
                key, value = line.split(":", 1)
                fields[key] = value.strip()
        if fields:
            yield fields


def long_text(description: str) -> str:
    """The long description as one paragraph-separated text ("." lines are blank lines)."""
    lines = description.split("\n")[1:]  # the first line is the one-line summary
    paragraphs, current = [], []
    for line in lines:
        if line.strip() == ".":
            paragraphs.append(" ".join(current))
            current = []
        else:
            current.append(line.strip())
    paragraphs.append(" ".join(current))
    return "\n".join(p for p in paragraphs if p).strip()


def main(lists_dir: str) -> None:
    lists = Path(lists_dir)
    packages = next(lists.glob("*_debian_dists_bookworm_main_binary-amd64_Packages*"))
    translations = next(lists.glob("*_debian_dists_bookworm_main_i18n_Translation-en*"))
    section_of = {}
    for stanza in stanzas(read_index(packages)):
        section = stanza.get("Section", "").split("/")[-1]
        if section in SECTIONS:
            section_of[(stanza["Package"], stanza.get("Description-md5"))] = section
    by_section: dict[str, dict[str, str]] = {name: {} for name in SECTIONS}
    seen = set()
    for stanza in stanzas(read_index(translations)):
        key = (stanza.get("Package"), stanza.get("Description-md5"))
        if key not in section_of:
            continue
        text = long_text(stanza.get("Description-en", ""))
        if not (MIN_CHARS <= len(text) <= MAX_CHARS) or BOILERPLATE.search(text) or text in seen:
            continue
        seen.add(text)
        by_section[section_of[key]][key[0]] = text
    rng = random.Random(20261124)
    rows = []
    for section, texts in by_section.items():
        names = sorted(texts)
        for name in rng.sample(names, min(PER_SECTION, len(names))):
            rows.append({"external_id": f"debian:{name}", "text": texts[name], "label": section})
    rng.shuffle(rows)
    for row in rows:
        sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/var/lib/apt/lists")
