"""``manage.py extract_product`` as a pipeline stage: JSON lines out on stdout, logs on stderr.

The command runs in a subprocess with real pipes and logging at INFO, so a log line, a metric
or a stray print that reached stdout would break ``json.loads`` on that line here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from extraction.management.commands.extract_product import describe_io

REPO = Path(__file__).resolve().parents[2]
URL = "https://shop.example.com/p/stoneware-mug?utm_source=mail"
PAGE = """<!doctype html><html lang="en-GB"><head><title>Stoneware Mug | Shop</title>
<script type="application/ld+json">{"@context": "https://schema.org", "@type": "Product",
"name": "Stoneware Mug", "offers": {"@type": "Offer", "price": "12.50",
"priceCurrency": "GBP", "availability": "https://schema.org/InStock"}}</script>
</head><body><h1>Stoneware Mug</h1><p>£12.50</p></body></html>"""


def run_command(stdin: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "buyhive.settings.test",
        "TEST_LOG_LEVEL": "INFO",
        # No page encoder: the page check does without MiniLM instead of loading it for a
        # minute on a busy machine (what is tested here is the stream, not the check).
        "PAGE_ENCODER_DIR": str(tmp_path / "no-encoder"),
        "METRICS_ENABLED": "true",
    }
    return subprocess.run(
        [sys.executable, "manage.py", "extract_product", *args],
        cwd=REPO,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_stdout_is_json_lines_only_and_logs_go_to_stderr(tmp_path: Path) -> None:
    lines = [
        json.dumps({"url": URL, "html": PAGE}),
        "{not json",
        "",
        json.dumps({"url": "ftp://shop.example.com/x"}),
        json.dumps(["a list, not an object"]),
        json.dumps({"url": URL, "text": "Stoneware Mug £12.50 In stock"}),
    ]
    result = run_command("\n".join(lines) + "\n", tmp_path, "--no-cache")

    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(line) for line in result.stdout.splitlines()]  # every line is JSON
    assert len(rows) == 5  # one per non-blank input line, in order
    assert rows[0]["product"]["title"] == "Stoneware Mug"
    assert rows[0]["product"]["price"] == "12.50"
    assert rows[0]["product"]["currency"] == "GBP"
    assert rows[0]["item"] is None and rows[0]["cached"] is False
    assert isinstance(rows[0]["page_check"], dict)
    assert rows[1] == {"line": 2, "error": rows[1]["error"]}
    assert rows[1]["error"]["code"] == "invalid_json"
    assert rows[2]["line"] == 4 and rows[2]["error"]["code"] == "validation_error"
    assert "url" in rows[2]["error"]["fields"]
    assert rows[3]["line"] == 5 and rows[3]["error"]["code"] == "validation_error"
    assert rows[4]["product"]["currency"] == "GBP"
    # The logs were written, at INFO, and to stderr.
    assert "product_extracted" in result.stderr
    assert "product_extracted" not in result.stdout
    # So were the metrics (CloudWatch EMF lines, stdout in production's web process).
    assert '"_aws"' in result.stderr


def test_help_documents_input_and_output_fields(tmp_path: Path) -> None:
    result = run_command("", tmp_path, "--help")
    assert result.returncode == 0
    text = result.stdout
    for field in ("url", "html?", "text?", "image_urls?"):
        assert field in text
    assert "cart_ids" not in text  # ignored by the command, so not offered
    for field in ("product", "provenance", "page_check", "image_check", "llm", "cached", "item"):
        assert field in text
    assert '{"line": N, "error"' in text
    assert "stderr" in text


def test_help_lists_the_endpoint_output_fields_as_they_are() -> None:
    """The field list is read from the API's serializer: a new output field appears by itself."""
    from extraction.apis import ExtractApi

    for name in ExtractApi.OutputSerializer().fields:
        assert name in describe_io()
