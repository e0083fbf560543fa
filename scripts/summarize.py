#!/usr/bin/env python3
"""summarize.py — adds up meson testlog.json and pytest junit results in a directory and
prints the one line CI reads: "N passed, N failed, N skipped". Exit 1 if anything failed."""
import json
import pathlib
import sys
import xml.etree.ElementTree as ET

passed = failed = skipped = 0
for f in sorted(pathlib.Path(sys.argv[1]).iterdir()):
    if f.suffix == ".json":
        for line in f.read_text().splitlines():
            r = json.loads(line).get("result")
            if r == "OK" or r == "EXPECTEDFAIL":
                passed += 1
            elif r == "SKIP":
                skipped += 1
            else:
                failed += 1
    elif f.suffix == ".xml":
        root = ET.parse(f).getroot()
        for s in root.iter("testsuite"):
            t, fl, er, sk = (int(s.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
            failed += fl + er
            skipped += sk
            passed += t - fl - er - sk
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
