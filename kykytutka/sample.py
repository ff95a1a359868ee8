"""Send one sample booking to a running service and show the answer (used by `make demo`)."""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from data_contracts.records import as_json_records
from synthetic.cohort import generate_cohort


def main(url: str, key_file: Path) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    break
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline:
                sys.exit(f"the service at {url} did not become ready; see .kykytutka/serve.log")
            time.sleep(1)
    # A client like Matti of DOMAIN.md: unemployed for long, a complaint that drags on.
    record = {
        **as_json_records(generate_cohort("pirkanmaa", 1, seed=1))[0],
        "employment_status": "unemployed",
        "months_unemployed": 30,
        "complaint_duration_weeks": 14,
        "work_ability_score": 4,
        "booking_id": "demo-1",
    }
    body = json.dumps(record).encode()
    request = urllib.request.Request(f"{url}/v1/assessments", data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", f"Bearer {key_file.read_text().strip()}")
    request.add_header("Accept-Language", "fi")
    print(f"POST {url}/v1/assessments\n{json.dumps(record, ensure_ascii=False)}\n")
    with urllib.request.urlopen(request, timeout=30) as response:
        print(json.dumps(json.loads(response.read()), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
