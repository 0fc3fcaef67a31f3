"""Cloudflare's official Python client against a running `roster serve`, configured only with
`api_token` and `base_url`; once with the client's defaults and once with its strict response
validation. Set-up goes through Roster's native API. Environment: ROSTER_URL, ROSTER_MASTER_KEY."""

import json
import os
import time
import urllib.request

import cloudflare
from cloudflare import Cloudflare

BASE = os.environ["ROSTER_URL"]
MASTER = os.environ["ROSTER_MASTER_KEY"]


def native(key, method, path, body=None):
    request = urllib.request.Request(
        BASE + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        text = response.read()
    return json.loads(text) if text else None


def expect(error_type, call):
    try:
        call()
    except error_type as error:
        return error
    raise AssertionError(f"expected {error_type.__name__}")


def flow(strict):
    partner = native(MASTER, "POST", "/v1/partners", {"name": f"Cloudflare client {time.time()}"})
    key = next(k["secret"] for k in partner["admin_keys"] if k["mode"] == "live")
    names = ["Delta", "Alpha", "Charlie", "Bravo", "Echo", "Foxtrot", "Golf", "Hotel"]
    accounts = {name: native(key, "POST", "/v1/organisations", {"name": name})["id"] for name in names}

    def member(account, email, role, **extra):
        body = {"organisation_id": accounts[account], "email": email, "role": role,
                "first_name": "Ada", "last_name": "Lovelace", **extra}
        return native(key, "POST", "/v1/memberships", body)

    # Ada: the only admin of Delta (with another member), accepted in four, invited to three.
    ada = member("Delta", "ada@example.com", "ADMIN")
    member("Delta", "bob@example.com", "STANDARD")
    mine = {"Delta": ada["id"]}
    for account in ["Alpha", "Charlie", "Bravo", "Echo"]:
        mine[account] = member(account, "ada@example.com", "STANDARD")["id"]
    for account in ["Foxtrot", "Golf", "Hotel"]:
        mine[account] = member(account, "ada@example.com", "STANDARD", status="pending")["id"]
    token = native(key, "POST", "/v1/api-keys", {"name": "session", "user_id": ada["user_id"]})["secret"]

    client = Cloudflare(api_token=token, base_url=f"{BASE}/compat/cloudflare", _strict_response_validation=strict)

    # list() follows the pages until an empty one: 8 memberships, 5 a page.
    listed = list(client.memberships.list(per_page=5))
    assert sorted(m.id for m in listed) == sorted(mine.values()), listed
    assert [m.id for m in listed] == [mine[a] for a in reversed(list(mine))], "newest first"
    pending = list(client.memberships.list(status="pending", per_page=5))
    assert sorted(m.account.name for m in pending) == ["Foxtrot", "Golf", "Hotel"]
    named = list(client.memberships.list(name="Bravo"))
    assert [m.id for m in named] == [mine["Bravo"]]
    ordered = client.memberships.list(order="account.name", direction="desc", per_page=50)
    assert [m.account.name for m in ordered.result] == sorted(names, reverse=True)
    assert (ordered.result_info.page, ordered.result_info.per_page) == (1, 50)

    read = client.memberships.get(mine["Delta"])
    assert (read.id, read.account.name, read.status, read.roles) == (mine["Delta"], "Delta", "accepted", ["Administrator"])
    assert read.account.type == "standard" and read.account.managed_by.parent_org_id == partner["id"]
    assert read.permissions.dns.write is True
    invited = client.memberships.get(mine["Foxtrot"])
    assert invited.permissions.zones.read is True and invited.permissions.zones.write is False

    accepted = client.memberships.update(mine["Foxtrot"], status="accepted")
    assert accepted.status == "accepted"
    rejected = client.memberships.update(mine["Golf"], status="rejected")
    assert rejected.status == "rejected"
    assert native(key, "GET", f"/v1/memberships/{mine['Golf']}")["status"] == "rejected"
    left = client.memberships.delete(mine["Echo"])
    assert left.id == mine["Echo"]

    expect(cloudflare.NotFoundError, lambda: client.memberships.get("mem_missing"))
    bad = expect(cloudflare.BadRequestError, lambda: client.memberships.update(mine["Foxtrot"], status="rejected"))
    assert bad.errors[0].code == 1004, bad.body
    expect(cloudflare.BadRequestError, lambda: list(client.memberships.list(per_page=51)))
    started = time.monotonic()
    conflict = expect(cloudflare.ConflictError, lambda: client.memberships.delete(mine["Delta"]))
    assert conflict.errors[0].code == 1005 and time.monotonic() - started < 0.5, "not retried"
    stranger = Cloudflare(api_token="ut_live_not_a_token", base_url=f"{BASE}/compat/cloudflare", max_retries=0)
    expect(cloudflare.AuthenticationError, lambda: list(stranger.memberships.list()))
    partner_key = Cloudflare(api_token=key, base_url=f"{BASE}/compat/cloudflare", max_retries=0)
    denied = expect(cloudflare.PermissionDeniedError, lambda: partner_key.memberships.get(mine["Delta"]))
    assert denied.errors[0].code == 10000


flow(strict=False)
flow(strict=True)
print("cloudflare client flow passed (default and strict validation)")
