#!/usr/bin/env python3
"""Runs the README's psql session as written and checks every result it shows.

    scripts/readme_sql.py DATABASE_URL [README.md]

The session is the ```sql blocks of the section "Working on the data with SQL". Each
statement runs in psql, in order, as `make psql` runs it; the comment lines right after a
statement say what it answers:

    --  batch | 22221.750000000000000000     a row (two spaces after --: psql's own margin)
    -- ERROR:  insufficient funds: ...       the error it raises

A statement followed by no such line must succeed and answer no row. Any other comment is
prose. Cells compare with the spaces around them stripped, so the alignment is the README's.
Exits 1 naming each statement whose answer differs.
"""

import os
import re
import subprocess
import sys

SECTION = "## Working on the data with SQL"


def session(readme: str) -> str:
    """The text of the section's sql blocks, in order."""
    text = readme.split(SECTION, 1)[1]
    text = re.split(r"^## ", text, maxsplit=1, flags=re.M)[0]
    return "\n".join(re.findall(r"^```sql\n(.*?)^```", text, flags=re.M | re.S))


def statements(sql: str):
    """(statement, expected rows, expected error) for each statement of the session."""
    found = []
    current = []
    rows = []
    error = None

    def close():
        nonlocal current, rows, error
        if current:
            found.append(("\n".join(current), rows, error))
        current, rows, error = [], [], None

    pending = None  # a statement whose terminating ';' was seen, awaiting its result lines
    for line in sql.splitlines():
        if pending is not None:
            if line.startswith("--  "):
                rows.append([cell.strip() for cell in line[4:].split("|")])
                continue
            if line.startswith("-- ERROR:"):
                error = line[len("-- ERROR:"):].strip()
                continue
            pending = None
            close()
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("--")):
            continue
        current.append(line)
        code = line.split("--", 1)[0].rstrip()
        if code.endswith(";"):
            pending = True
    close()
    return found


def run(url: str, statement: str):
    done = subprocess.run(
        [os.environ.get("PSQL", "psql"), url, "-X", "-q", "-A", "-t", "-F", "|", "-v", "VERBOSITY=terse",
         "-v", "ON_ERROR_STOP=1", "-c", statement],
        capture_output=True, text=True,
    )
    rows = [[cell.strip() for cell in line.split("|")]
            for line in done.stdout.splitlines()]
    error = None
    for line in done.stderr.splitlines():
        if line.startswith("ERROR:"):
            error = line[len("ERROR:"):].strip()
            break
    if done.returncode != 0 and error is None:
        error = done.stderr.strip() or f"psql exited {done.returncode}"
    return rows, error


def main() -> int:
    url = sys.argv[1]
    readme = open(sys.argv[2] if len(sys.argv) > 2 else "README.md").read()
    checked = statements(session(readme))
    if len(checked) < 5:
        print(f"the README's psql session has {len(checked)} statements", file=sys.stderr)
        return 1
    wrong = 0
    for statement, rows, error in checked:
        got_rows, got_error = run(url, statement)
        if (got_rows, got_error) != (rows, error):
            wrong += 1
            print(f"--- {statement}\n    README: rows {rows}, error {error!r}\n"
                  f"    psql:   rows {got_rows}, error {got_error!r}", file=sys.stderr)
    print(f"the README's psql session: {len(checked)} statements, {wrong} answered otherwise")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
