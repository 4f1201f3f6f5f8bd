#!/usr/bin/env python3
"""Offline checks of the SAM template beyond `cfn-lint template.yaml`.

    python scripts/check-template.py [TEMPLATE]     # default: template.yaml at the repository top

1. `sam validate --lint`: SAM's own validation (the transform must succeed) plus cfn-lint, as
   SAM runs it. Offline: fake credentials, a region, telemetry off.
2. The template translated to plain CloudFormation with samtranslator (the library `sam` and
   CloudFormation's transform use), each state machine's `DefinitionUri` file inlined as its
   `Definition`, then cfn-lint on the result. cfn-lint on the SAM file cannot see into the ASL
   file nor into what SAM generates: this catches an ASL `${Name}` with no
   `DefinitionSubstitutions` entry (E1029), a `!Ref` to a missing resource inside a SAM policy
   template or in Globals, and bad properties of the generated roles, rules and permissions.

Runs with the Python of the test virtualenv (scripts/test installs aws-sam-cli and cfn-lint
there). Exits 0 when every check passes, 1 when one fails (its output says which and why),
2 when a tool is missing. Every check runs even after one fails.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

# Enough for the SAM CLI and samtranslator to run without an AWS account or network.
OFFLINE_ENV = {
    "SAM_CLI_TELEMETRY": "0",
    "SAM_CLI_CONTEXT": "",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
# Stands in for the code a `sam build`/`sam package` would upload.
PLACEHOLDER_CODE_URI = "s3://screener-check-template/code.zip"


def say(message: str) -> None:
    print(f"check-template: {message}", file=sys.stderr, flush=True)


def tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        say(f"{name} is not installed next to {sys.executable} (scripts/test installs it)")
        sys.exit(2)
    return str(path)


def run(argv: list[str], what: str) -> bool:
    env = {**os.environ, **OFFLINE_ENV}
    env.pop("AWS_PROFILE", None)
    result = subprocess.run(argv, env=env, capture_output=True, text=True)
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        say(f"FAILED: {what} (exit {result.returncode})")
        print(output, file=sys.stderr)
        return False
    say(f"ok: {what}")
    return True


def sam_validate_lint(template: Path) -> bool:
    return run(
        [tool("sam"), "validate", "--lint", "--template-file", str(template)],
        f"sam validate --lint {template.name}",
    )


def inline_definitions(template: dict, base: Path) -> None:
    """Each state machine's DefinitionUri file becomes its Definition (what `sam package` and
    the Step Functions transform do with it); local CodeUri paths become an S3 placeholder."""
    globals_function = template.get("Globals", {}).get("Function", {})
    if isinstance(globals_function.get("CodeUri"), str) and not globals_function[
        "CodeUri"
    ].startswith("s3://"):
        globals_function["CodeUri"] = PLACEHOLDER_CODE_URI
    for name, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties") or {}
        kind = resource.get("Type")
        if kind == "AWS::Serverless::StateMachine" and isinstance(
            properties.get("DefinitionUri"), str
        ):
            path = base / properties.pop("DefinitionUri")
            try:
                properties["Definition"] = json.loads(path.read_text())
            except (OSError, ValueError) as error:
                raise SystemExit(f"{name}: DefinitionUri {path}: {error}")
        if kind == "AWS::Serverless::Function" and isinstance(properties.get("CodeUri"), str):
            if not properties["CodeUri"].startswith("s3://"):
                properties["CodeUri"] = PLACEHOLDER_CODE_URI


def translate(template_path: Path) -> dict:
    os.environ.update(OFFLINE_ENV)
    from samcli.yamlhelper import yaml_parse  # the loader `sam` itself uses (CFN tags)
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:
        """Offline: names no AWS managed policy (samtranslator would list them with IAM)."""

        def load(self) -> dict[str, str]:
            return {}

    template = yaml_parse(template_path.read_text())
    inline_definitions(template, template_path.parent)
    return transform(copy.deepcopy(template), {}, NoManagedPolicies())


def lint_translated(template_path: Path) -> bool:
    try:
        translated = translate(template_path)
    except Exception as error:  # samtranslator raises its own exception types
        say(f"FAILED: samtranslator could not translate {template_path.name}: {error}")
        return False
    say(f"ok: samtranslator translated {template_path.name} with the ASL inlined")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "translated.json"
        out.write_text(json.dumps(translated, indent=1))
        return run(
            [tool("cfn-lint"), str(out)],
            f"cfn-lint on the translated template (ASL inlined)",
        )


def main() -> int:
    template = Path(sys.argv[1]) if len(sys.argv) > 1 else TOP / "template.yaml"
    template = template.resolve()
    if not template.is_file():
        say(f"no template at {template}")
        return 2
    results = [sam_validate_lint(template), lint_translated(template)]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
