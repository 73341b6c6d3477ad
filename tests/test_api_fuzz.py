"""schemathesis against the dispatcher's own OpenAPI document, on a dispatcher the test
starts: generated requests to every operation (valid and invalid parameters and bodies,
boundary values, odd headers, stateful sequences from inferred links) as an admin. No answer
may be a server error, every request that breaks the documented schema must be refused
(negative data rejected), no operation may answer the same without its token, and every
answer must fit the response model its route documents (dispatcher/api/shapes.py)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from gridpatrol.demo import DispatcherThread

# What only a person may do (a machine token is refused whatever it sends): whether the fuzzer
# reports one of these as "only 403" depends on whether it happened to send a bad body too.
PERSON_ONLY = {
    "POST /api/v1/cases/{case_id}/actions/{action}", "POST /api/v1/cases/{case_id}/acknowledge",
    "POST /api/v1/cases/{case_id}/resolve", "POST /api/v1/cases/{case_id}/seen",
    "POST /api/v1/people/{person_id}/inbox/seen", "POST /api/v1/people/{person_id}/push-subscriptions",
    "POST /api/v1/people/{person_id}/presence", "POST /api/v1/reports",
}
# Logging out and revoking tokens would end the fuzzer's own token (tests/test_auth.py covers both).
EXCLUDED = ["POST /api/v1/auth/logout", "DELETE /api/v1/auth/tokens/{token_id}"]


def test_no_generated_request_gets_a_server_error(dispatcher: DispatcherThread, tmp_path: Path) -> None:
    token = dispatcher.services.auth.issue_machine("schemathesis", "admin").token
    command = [str(Path(sys.executable).parent / "schemathesis"), "run", f"{dispatcher.url}/openapi.json",
               "-H", f"Authorization: Bearer {token}", "--max-examples", "25",
               "--checks", "not_a_server_error,negative_data_rejection,ignored_auth,response_schema_conformance",
               "--workers", "1", "--seed", "20261202", "--continue-on-failure", "--report-dir", str(tmp_path)]
    for name in EXCLUDED:
        command += ["--exclude-name", name]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    generated = re.search(r"(\d+) generated", output)
    assert generated and int(generated.group(1)) > 500, output[-3000:]  # it really ran
    # past the login everywhere but where a person must act: a machine token takes no case action
    section = re.search(r"Authentication failed.*?\n\n(.*?)\n\n", output, re.S)
    refused = set(re.findall(r"^\s+- (\w+ /\S+)$", section.group(1), re.M)) if section else set()
    assert refused <= PERSON_ONLY, output[-3000:]
    print(f"schemathesis: {generated.group(1)} requests generated, no server error")
