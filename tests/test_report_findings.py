"""Key findings and next steps follow from the results, and the Japanese report reads as one text: one
register (です・ます), one term per concept, counts as "18セル中6セル", no nested parentheses, no emoji."""

from __future__ import annotations

import re

from test_report_compare import (
    deep,
    make_result,
    noise,
    plain_form_endings,
    twin,
    unrelated,
)

from emoalign.report.comparative import build_report
from emoalign.report.compare import compare_results
from emoalign.report.document import to_markdown
from emoalign.report.findings import key_findings, next_steps
from emoalign.report.marks import FORBIDDEN_MARKS


def report(results, lang: str) -> str:
    return to_markdown(build_report(compare_results(results), lang=lang)[1])


def nested_parentheses(text: str) -> list[str]:
    """Parenthetical remarks that hold another one (ASCII or full-width), outside code."""
    prose = re.sub(r"```.*?```|`[^`]*`", "", text, flags=re.S)
    found, depth, start = [], 0, 0
    for i, ch in enumerate(prose):
        if ch in "(（":
            depth += 1
            start = i if depth == 1 else start
            if depth == 2:
                found.append(prose[max(0, start - 10):i + 20])
        elif ch in ")）" and depth:
            depth -= 1
    return found


def test_findings_follow_from_the_numbers():
    comparison = compare_results([twin(), unrelated(), deep(), noise()])
    groups = dict(key_findings(comparison))
    general = {s.key: s.labels for s in groups["h_find_generality"]}
    assert general["find_beyond"] == ("twin", "deep") and general["find_not_beyond"] == ("unrelated",)
    assert general["find_no_corr"] == ("noise",)
    original = groups["h_find_original"][0]  # after > 0.1 everywhere; the copies reject two of the four
    assert original.key == "find_original_rejected" and original.labels == ("unrelated", "noise")
    assert original.params["n_met"] == 4 and original.params["n_rejected"] == 2
    assert [s.labels for s in groups["h_find_emotion"]] == [("deep",)]
    steps = {s.key: s.labels for s in next_steps(comparison)}
    assert steps["step_not_beyond"] == ("unrelated",) and steps["step_no_corr"] == ("noise",)
    assert steps["step_replicate"] == ("deep",) and steps["step_specificity"] == ("twin",)
    assert "step_baseline" not in steps and "step_none" not in steps


def test_controls_are_reported_on_their_own_and_judged_by_their_kind():
    """A planted twin should share structure and a random-weight pair should not: they get their own
    finding, and the generality, layer findings and next steps speak only of the studied pairs."""
    planted, random_pair, fooled = twin(), unrelated(), twin()
    planted.config["control"] = "planted twin"
    random_pair.config["control"] = "random weights"
    fooled.config["control"] = "random weights"  # a random-weight pair that "shares": the instrument is suspect
    fooled.target = {**fooled.target, "name": "fooled"}
    comparison = compare_results([deep(), unrelated(), planted, random_pair, fooled])
    labels = [e.label for e in comparison.entries]
    groups = dict(key_findings(comparison))
    general = {s.key: (s.labels, s.params) for s in groups["h_find_generality"]}
    assert general["find_beyond"] == ((labels[0],), {"n": 1, "total": 2})
    assert general["find_not_beyond"] == ((labels[1],), {"n": 1, "total": 2})
    assert [s.labels for s in groups["h_find_layers"]] == [(labels[0],), (labels[1],)]
    controls = {s.key: s.labels for s in groups["h_find_controls"]}
    assert controls["find_controls_expected"] == (labels[2], labels[3])
    assert controls["find_controls_unexpected"] == (labels[4],)
    steps = {s.key: s.labels for s in next_steps(comparison)}
    assert all(set(found) <= set(labels[:2]) for found in steps.values()), steps
    assert "7. コントロール" in report([deep(), planted], "ja") and "7. Controls" in report([deep(), planted], "en")


def test_steps_ask_for_what_an_artifact_lacks():
    legacy = make_result("legacy", [0.3, 0.4], metric="legacy", stats=False)
    nobase = make_result("nobase", [0.6, 0.7], copies=None)
    steps = {s.key: s.labels for s in next_steps(compare_results([legacy, nobase]))}
    assert steps["step_bounded"] == ("legacy",) and steps["step_baseline"] == ("nobase",)
    groups = dict(key_findings(compare_results([legacy])))
    assert groups["h_find_original"][0].key == "find_original_unjudged"


def test_the_japanese_report_reads_as_one_text():
    text = report([twin(), unrelated(), deep(), noise(), make_result("nobase", [0.6, 0.7], copies=None),
                   make_result("legacy", [0.3, 0.4], metric="legacy", stats=False)], "ja")
    assert "## 主要な知見" in text and "## 今後のステップ" in text
    assert "成果物" not in text and "アーティファクト" not in text and "生成物" in text  # one term
    assert "18セル中18セル" in text and not re.search(r"\d+ of \d+", text)
    assert not nested_parentheses(text), nested_parentheses(text)
    assert not [m for m in FORBIDDEN_MARKS if m in text]
    assert not plain_form_endings(text), plain_form_endings(text)
    findings = text.split("## 主要な知見")[1].split("## 結論")[0]
    sentences = [s for line in findings.splitlines() if line.startswith(("- ", "1. ", "2. ", "3. "))
                 for s in line.split("。") if s.strip()]
    assert sentences and all(s.rstrip().endswith(("です", "ます", "ません", "ください")) for s in sentences), sentences


def test_the_english_report_has_the_same_sections_and_no_emoji():
    text = report([twin(), unrelated()], "en")
    assert "## Key findings" in text and "## Next steps" in text
    assert not [m for m in FORBIDDEN_MARKS if m in text] and "[pass]" in text and "[fail]" in text
