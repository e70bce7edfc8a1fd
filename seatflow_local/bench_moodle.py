"""`make bench-moodle`: the same new learners enrolled in SPOCM1 and its group on the Moodle peer, once through
seatflow (one order on the local runtime) and once, after a reset, through Moodle's own bulk tool
(admin/tool/uploaduser/cli/uploaduser.php, then the scheduled task that mails the new passwords).

Prints both walls (until every learner is enrolled and grouped; until every learner also has the password mail),
their ratios, seatflow's web-service calls, Moodle-side CPU, and whether both end states match. Asserts nothing
about speed. Figures go to bench/moodle-latest.json. How things are counted:

- walls start at the order's POST (at the CLI's start). "Enrolled and grouped" ends when the execution ends
  (grouping is its last step) or when uploaduser exits; "mailed" ends at the last caught mail (seatflow's mails
  leave during its create calls), or when the scheduled task exits;
- calls: client-side, `MoodleClient.calls` of the workflow's shared client (seatflow.fulfilment.services), beside
  the REST requests the peer's web server logged (PEER_DIR/log/php.log), which also sees clients built elsewhere;
- Moodle-side CPU: user + system time, from /proc, of the peer's web server and PostgreSQL processes, their live
  descendants and their reaped children, before and after; for uploaduser also its CLI processes' own time.
  Everything else on the machine shares the same cores: quote figures from a quiet machine.
"""

from __future__ import annotations

import argparse
import csv
import email
import email.policy
import fcntl
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from seatflow_local.template import ROOT

NO_PEER = (
    "no Moodle peer configured: install ../shared/moodle-peer and export its env "
    '(eval "$(bash ../shared/moodle-peer/env.sh)")'
)
COURSE, START, DAYS = "SPOCM1", 1767225600, 35
PARAMS = f"coursename={COURSE}&supervisor=teacher&starttime={START}&endtime=+{DAYS}D"
ORDER_ID = "BENCH-MOODLE"
OPERATOR = {"firstname": "Alice", "lastname": "Martin", "email": "alice@example.com"}  # the fixture's, reused
REST = "POST /webservice/rest/server.php"
TICK = os.sysconf("SC_CLK_TCK")


def learners(count: int) -> list[dict[str, str]]:
    return [
        {"firstname": "Bench", "lastname": f"Learner{i:03d}", "email": f"bench.learner{i:03d}@bench.example"}
        for i in range(count)
    ]


# -- the peer --------------------------------------------------------------------------------------------------
class Peer:
    def __init__(self) -> None:
        env = os.environ
        self.url, self.token, self.pg = env["MOODLE_URL"], env["MOODLE_TOKEN"], env["MOODLE_PG"]
        self.dir = Path(env["MOODLE_PEER_DIR"])
        self.mail_dir = Path(env.get("MOODLE_MAIL_DIR") or self.dir / "mail")
        self.role_ids = json.loads(env.get("MOODLE_ROLE_IDS") or "{}")
        self.php = [str(self.dir / "bin" / "php")]  # php with the peer's ini (max_input_vars, opcache)

    def reset(self) -> None:
        subprocess.run(["bash", str(self.dir / "scripts" / "reset.sh")], check=True, capture_output=True)

    def moodle_cpu(self) -> float:
        """CPU seconds of the web server and PostgreSQL process trees, including their reaped children."""
        roots = {int((self.dir / "run" / f"{name}.pid").read_text()) for name in ("php", "postgres")}
        parent, spent = {}, {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue  # ended meanwhile
                parent[int(entry.name)] = int(fields[1])
                spent[int(entry.name)] = sum(int(f) for f in fields[11:15]) / TICK  # utime stime cutime cstime
        total = 0.0
        for pid, seconds in spent.items():
            ancestor = pid
            while ancestor not in roots and ancestor > 1:
                ancestor = parent.get(ancestor, 0)
            total += seconds if ancestor in roots else 0.0
        return total

    def rest_requests(self) -> int:
        log = self.dir / "log" / "php.log"
        return log.read_text(errors="replace").count(REST) if log.exists() else 0

    def new_account_mails(self) -> tuple[Counter[str], float]:
        """'New user account' mails per recipient, and when the last mail arrived."""
        counts: Counter[str] = Counter()
        last = 0.0
        for path in self.mail_dir.glob("*.eml"):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if "New user account" in str(message["Subject"]):
                counts.update(r.strip().lower() for r in str(message["X-Peer-Rcpt-To"]).split(","))
            last = max(last, path.stat().st_mtime)
        return counts, last

    def end_state(self, emails: list[str], group_name: str) -> dict[str, Any]:
        """What Moodle holds for these learners: accounts, enrolments (dates, student role), group, mails."""
        import psycopg

        wanted = [e.lower() for e in emails]
        with psycopg.connect(self.pg) as db:
            accounts: dict[str, int] = dict(
                db.execute(
                    "SELECT lower(email), count(*) FROM mdl_user"
                    " WHERE deleted = 0 AND lower(email) = ANY(%s) GROUP BY 1",
                    (wanted,),
                ).fetchall()
            )
            enrolled = db.execute(
                """SELECT lower(u.email), ue.timestart, ue.timeend FROM mdl_course c
                     JOIN mdl_enrol e ON e.courseid = c.id AND e.enrol = 'manual'
                     JOIN mdl_user_enrolments ue ON ue.enrolid = e.id JOIN mdl_user u ON u.id = ue.userid
                     JOIN mdl_context x ON x.contextlevel = 50 AND x.instanceid = c.id
                     JOIN mdl_role_assignments ra ON ra.contextid = x.id AND ra.userid = u.id
                     JOIN mdl_role r ON r.id = ra.roleid AND r.shortname = 'student'
                    WHERE c.shortname = %s AND lower(u.email) = ANY(%s)""",
                (COURSE, wanted),
            ).fetchall()
            grouped = db.execute(
                """SELECT count(DISTINCT u.id) FROM mdl_course c JOIN mdl_groups g ON g.courseid = c.id
                     JOIN mdl_groups_members gm ON gm.groupid = g.id JOIN mdl_user u ON u.id = gm.userid
                    WHERE c.shortname = %s AND g.name = %s AND lower(u.email) = ANY(%s)""",
                (COURSE, group_name, wanted),
            ).fetchone()
        mails, _ = self.new_account_mails()
        return {
            "one_account_each": sum(1 for e in wanted if accounts.get(e) == 1),
            "enrolled_as_student": len({row[0] for row in enrolled}),
            "enrolment_dates": sorted({f"{row[1]}-{row[2]}" for row in enrolled}),
            "group_members": grouped[0] if grouped else 0,
            "one_password_mail_each": sum(1 for e in wanted if mails[e] == 1),
            "password_mails": sum(mails[e] for e in wanted),
        }


# -- the two ways ----------------------------------------------------------------------------------------------
def run_seatflow(peer: Peer, people: list[dict[str, str]]) -> dict[str, Any]:
    from seatflow_local.runtime import LocalRuntime

    order = {
        "order_id": ORDER_ID,
        "operator": OPERATOR,
        "product": {"code": "BENCH", "params": PARAMS},
        "seats": len(people),
        "participants": {"learners": people, "tutors": []},
    }
    with LocalRuntime(moodle_url=peer.url, moodle_token=peer.token, role_ids=peer.role_ids) as rt:
        cpu, requests, own = peer.moodle_cpu(), peer.rest_requests(), time.process_time()
        started = time.time()
        status, answer = rt.submit_order(json.dumps(order))
        if status != 202:
            raise RuntimeError(f"order refused: {answer}")
        rt.wait_for_order(ORDER_ID, timeout=3600)
        grouped = time.time() - started
        cpu, requests, own = peer.moodle_cpu() - cpu, peer.rest_requests() - requests, time.process_time() - own
        _, document = rt.get_order(ORDER_ID)
        from seatflow.fulfilment.services import services

        calls = dict(services().moodle.calls.most_common())
    _, last_mail = peer.new_account_mails()
    return {
        "status": document["status"],
        "counts": document["counts"],
        "group_name": (document.get("group") or {}).get("name"),
        "wall_enrolled_grouped_s": round(grouped, 2),
        "wall_mailed_s": round(max(grouped, last_mail - started), 2),
        "moodle_cpu_s": round(cpu, 2),
        "seatflow_process_cpu_s": round(own, 2),
        "ws_calls_by_function": calls,
        "ws_calls_client_side": sum(calls.values()),
        "ws_requests_server_log": requests,
        "ws_calls_per_participant": round(sum(calls.values()) / len(people), 2),
    }


def run_uploaduser(peer: Peer, people: list[dict[str, str]], group_name: str) -> dict[str, Any]:
    moodle = peer.dir / "moodle"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "learners.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            columns = ["username", "firstname", "lastname", "email", "course1", "role1", "group1"]
            writer.writerow([*columns, "enroltimestart1", "enrolperiod1"])  # the session's dates, as seatflow's
            for p in people:
                username = f"{p['firstname']}.{p['lastname']}".lower()
                row = [username, p["firstname"], p["lastname"], p["email"], COURSE, "student", group_name]
                writer.writerow([*row, f"@{START}", DAYS])
        upload = [*peer.php, str(moodle / "admin/tool/uploaduser/cli/uploaduser.php"), f"--file={path}"]
        upload += ["--uutype=0", "--uupasswordnew=1"]  # add new users only; generate passwords, mail them (queued)
        task = [*peer.php, str(moodle / "admin/cli/scheduled_task.php")]
        task.append("--execute=\\core\\task\\send_new_user_passwords_task")
        cpu, requests = peer.moodle_cpu(), peer.rest_requests()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.time()
        subprocess.run(upload, check=True, capture_output=True)
        grouped = time.time() - started
        subprocess.run(task, check=True, capture_output=True)
        mailed = time.time() - started
    spent = resource.getrusage(resource.RUSAGE_CHILDREN)
    cli = spent.ru_utime + spent.ru_stime - children.ru_utime - children.ru_stime
    return {
        "wall_enrolled_grouped_s": round(grouped, 2),
        "wall_mailed_s": round(mailed, 2),
        "moodle_cpu_s": round(peer.moodle_cpu() - cpu + cli, 2),
        "cli_cpu_s": round(cli, 2),
        "ws_requests_server_log": peer.rest_requests() - requests,
    }


# -- report ----------------------------------------------------------------------------------------------------
def compare(peer: Peer, people: list[dict[str, str]]) -> dict[str, Any]:
    """Both runs, each from the fixture, and their figures."""
    emails = [p["email"] for p in people]
    peer.reset()
    seatflow = run_seatflow(peer, people)
    group_name = seatflow["group_name"] or ORDER_ID
    seatflow["end_state"] = peer.end_state(emails, group_name)
    print(f"  seatflow done: {seatflow['status']}, {seatflow['wall_enrolled_grouped_s']} s", file=sys.stderr)
    peer.reset()
    upload = run_uploaduser(peer, people, group_name)
    upload["end_state"] = peer.end_state(emails, group_name)
    print(f"  uploaduser done: {upload['wall_enrolled_grouped_s']} s", file=sys.stderr)
    peer.reset()

    def ratio(key: str) -> float | None:
        return round(seatflow[key] / upload[key], 2) if upload[key] else None

    return {
        "learners": len(people),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpu, load {os.getloadavg()[0]:.1f}, {platform.platform()}",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seatflow_layer": str(Path(sys.modules["seatflow"].__file__ or "").parents[1]),  # which code ran
        "seatflow": seatflow,
        "uploaduser": upload,
        "ratio_enrolled_grouped": ratio("wall_enrolled_grouped_s"),
        "ratio_mailed": ratio("wall_mailed_s"),
        "ratio_moodle_cpu": ratio("moodle_cpu_s"),
        "end_states_match": seatflow["end_state"] == upload["end_state"],
    }


def print_figures(result: dict[str, Any]) -> None:
    seatflow, upload, learners = result["seatflow"], result["uploaduser"], result["learners"]
    rows = [
        ("wall, enrolled and grouped (s)", "wall_enrolled_grouped_s", "ratio_enrolled_grouped"),
        ("wall, also mailed (s)", "wall_mailed_s", "ratio_mailed"),
        ("Moodle-side CPU, PHP + PostgreSQL (s)", "moodle_cpu_s", "ratio_moodle_cpu"),
        ("web-service requests (server log)", "ws_requests_server_log", None),
    ]
    print(f"\nmachine: {result['machine']}; seatflow from {result['seatflow_layer']}")
    print(f"\n{'':<40} {'seatflow':>10} {'uploaduser':>11} {'ratio':>7}")
    for label, key, ratio_key in rows:
        shown = "" if ratio_key is None else str(result[ratio_key])
        print(f"{label:<40} {seatflow[key]:>10} {upload[key]:>11} {shown:>7}")
    print(
        f"\nseatflow web-service calls (client-side MoodleClient.calls): {seatflow['ws_calls_client_side']}, "
        f"{seatflow['ws_calls_per_participant']} per participant"
    )
    for function, count in seatflow["ws_calls_by_function"].items():
        print(f"  {function:<40} {count:>6}  {count / learners:>5.2f} per participant")
    print(f"\nend states match: {result['end_states_match']}")
    for key in seatflow["end_state"]:
        print(f"  {key:<24} seatflow {seatflow['end_state'][key]}  uploaduser {upload['end_state'][key]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--learners", type=int, default=300)
    args = parser.parse_args(argv)
    if not all(os.environ.get(n) for n in ("MOODLE_URL", "MOODLE_TOKEN", "MOODLE_PG", "MOODLE_PEER_DIR")):
        print(NO_PEER, file=sys.stderr)
        return 2
    os.environ.setdefault("SEATFLOW_LOG_LEVEL", "WARNING")
    peer, people = Peer(), learners(args.learners)
    print(f"bench-moodle: {len(people)} new learners -> {COURSE} and its group, on {peer.url}", file=sys.stderr)
    # The lock tests/moodle takes too: another run resetting the peer meanwhile would spoil both.
    with (peer.dir / "seatflow-peer.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = compare(peer, people)
    print_figures(result)
    out = ROOT / "bench" / "moodle-latest.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten to {out.relative_to(ROOT)}")
    return 0 if result["end_states_match"] else 1


if __name__ == "__main__":
    sys.exit(main())
