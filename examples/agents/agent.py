#!/usr/bin/env python3
"""A Saga Platform agent on the standard library alone: heartbeat, long-poll, complete.

Env: SAGA_API_URL and SAGA_AGENT_KEY (required), SAGA_INSTANCE_ID (default <hostname>-<pid>).
Completes every task with {"handledBy": "python", "echo": input}; exits 0 on SIGTERM or SIGINT.
"""
import json, os, signal, socket, sys, time, urllib.error, urllib.request

API = os.environ["SAGA_API_URL"].rstrip("/")
KEY = os.environ["SAGA_AGENT_KEY"]
INSTANCE = os.environ.get("SAGA_INSTANCE_ID") or f"{socket.gethostname()}-{os.getpid()}"
state = {"stopping": False, "idle": False}


def call(path, body, timeout=10.0):
    req = urllib.request.Request(API + path, json.dumps(body).encode(), method="POST", headers={
        "Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as res:
        raw = res.read()
        return json.loads(raw) if raw else {}


def on_signal(signum, frame):
    state["stopping"] = True
    if state["idle"]:  # in a long poll or a backoff: leave now; never in the middle of a report
        raise SystemExit(0)


def idle(fn, *args, **kwargs):
    state["idle"] = True
    try:
        return fn(*args, **kwargs)
    finally:
        state["idle"] = False


def main():
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    next_beat, backoff = 0.0, 0.5
    while not state["stopping"]:
        try:
            if time.monotonic() >= next_beat:
                interval = call("/v1/agent/heartbeat", {"instanceId": INSTANCE})["heartbeatIntervalMs"] / 1000
                next_beat = time.monotonic() + interval
            # The poll returns by the next heartbeat, so one loop keeps both on time.
            wait_ms = int(max(0.0, min(20.0, next_beat - time.monotonic())) * 1000)
            tasks = idle(call, "/v1/agent/tasks/poll", {"instanceId": INSTANCE, "maxTasks": 1, "waitMs": wait_ms},
                         timeout=wait_ms / 1000 + 10)["tasks"]
            for t in tasks:
                out = {"handledBy": "python", "echo": t["input"]}
                call(f"/v1/agent/tasks/{t['taskId']}/complete", {"lockToken": t["lockToken"], "output": out})
                print(f"completed task {t['taskId']} ({t['capability']})", flush=True)
            backoff = 0.5
        except urllib.error.HTTPError as e:
            code = (json.loads(e.read() or b"{}") or {}).get("code")
            if e.code == 401 or code == "AGENT_DECOMMISSIONING":
                print(f"stopping: {e.code} {code or ''}", file=sys.stderr)
                return 1 if e.code == 401 else 0
            if code == "INSTANCE_OFFLINE":
                next_beat = 0.0  # heartbeat first, then poll again
            else:  # LOCK_LOST / TASK_CANCELLED: the task is someone else's now; 503: back off
                print(f"refused: {e.code} {code or ''}", file=sys.stderr)
                idle(time.sleep, backoff)
                backoff = min(backoff * 2, 15.0)
        except (urllib.error.URLError, OSError, ValueError) as e:
            print(f"network error, retrying: {e}", file=sys.stderr)
            idle(time.sleep, backoff)
            backoff = min(backoff * 2, 15.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
