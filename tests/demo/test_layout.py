"""The floors of the layout (DESIGN.md): core, the ground floor, imports no app; demo, the top
floor, may import every app and no app imports it."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("members", "campaigns", "pledges", "payments", "payouts", "ledger", "community")


def import_pattern(names):
    return re.compile(rf"^\s*(from|import)\s+({'|'.join(names)})\b", re.MULTILINE)


def imports_of(package, names):
    pattern = import_pattern(names)
    return [
        f"{path.relative_to(ROOT)}: {match.group(0).strip()}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for match in pattern.finditer(path.read_text())
    ]


def test_core_imports_no_app():
    assert imports_of("core", (*APPS, "demo")) == []


def test_no_app_imports_demo():
    offenders = [line for app in ("config", "core", *APPS) for line in imports_of(app, ["demo"])]
    assert offenders == []


def test_the_pattern_finds_every_form_of_import():
    # The checks above would pass vacuously if it missed one (lazy imports are indented).
    source = "import campaigns\ndef f():\n    from campaigns.models import Campaign\n"
    assert len(import_pattern(["campaigns"]).findall(source)) == 2
    assert not import_pattern(["campaigns"]).search("import campaigns_extra\n# campaigns\n")
    assert imports_of("demo", ["pledges"])


def test_community_sits_above_the_apps_it_reads_and_no_lower_app_imports_it():
    # Updates and comments read pledges (supporters) and campaigns; none of those, nor the
    # ledger and payments below them, reaches up into community.
    offenders = [
        line
        for app in ("core", "members", "campaigns", "ledger", "payments", "payouts", "pledges")
        for line in imports_of(app, ["community"])
    ]
    assert offenders == []
