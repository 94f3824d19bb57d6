"""The image policy's rule that the build ships only the model variants it serves.

``scripts/image_policy.py`` is run on the Dockerfile by ``scripts/image_check.py --lint-only``
(CI); here its ``--served-only`` rule is checked against the committed Dockerfile and against the
same text with the flag taken off one export, which would ship CLIP's unserved fp32 towers.
"""

from __future__ import annotations

from types import ModuleType

import pytest

from buyhive.tests.scripts import REPO, load_script


@pytest.fixture(scope="module")
def policy() -> ModuleType:
    return load_script("image_policy")


def _served_only_problem(policy: ModuleType, dockerfile: str) -> str | None:
    instructions = policy.parse_dockerfile(dockerfile)
    assert policy._check_served_only in dict(policy.POLICY).values()  # a rule of the policy
    problem: str | None = policy._check_served_only(instructions, policy.stages(instructions)[-1])
    return problem


def test_the_dockerfile_ships_only_served_variants(policy: ModuleType) -> None:
    assert _served_only_problem(policy, (REPO / "Dockerfile").read_text()) is None


def test_an_export_without_served_only_is_refused(policy: ModuleType) -> None:
    text = (REPO / "Dockerfile").read_text()
    flagged = "export_onnx --model clip --strict --served-only"
    assert flagged in text
    problem = _served_only_problem(
        policy, text.replace(flagged, "export_onnx --model clip --strict")
    )
    assert problem is not None
    assert "--model clip --strict" in problem and "minilm" not in problem


def test_a_dockerfile_without_the_export_is_refused(policy: ModuleType) -> None:
    text = (REPO / "Dockerfile").read_text().replace("manage.py export_onnx", "manage.py check")
    assert _served_only_problem(policy, text) == "no stage runs manage.py export_onnx"
