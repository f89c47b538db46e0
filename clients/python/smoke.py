"""A program written against the client openapi-python-client generates from the spec,
run against a live server: sign in, create a tenant, earn, spend, read the balance, and
read an error envelope's `code` (make test-clients)."""

import os
import sys
import time

from shopops_client import AuthenticatedClient, Client
from shopops_client.api.auth import login
from shopops_client.api.points import points_earn, points_get_profile, points_spend
from shopops_client.api.tenants import create_tenant
from shopops_client.models import (
    Category,
    CreateTenant,
    EarnRequest,
    EntryResult,
    ErrorEnvelope,
    ErrorInfoCode,
    LoginRequest,
    NewTenantAdmin,
    ProfileView,
    SpendRequest,
    TokenPair,
)


def must(value, kind, what):
    if not isinstance(value, kind):
        sys.exit(f"{what} failed: {value!r}")
    return value


def main() -> None:
    base = os.environ["SHOPOPS_URL"]
    anonymous = Client(base_url=base)
    root = must(
        login.sync(client=anonymous, body=LoginRequest(username="root", password=os.environ["SHOPOPS_ROOT_PASSWORD"])),
        TokenPair,
        "root sign-in",
    )
    code = f"py-{int(time.time() * 1000)}"
    as_root = AuthenticatedClient(base_url=base, token=root.access_token)
    admin_password = "Client-Admin-2026"
    created = create_tenant.sync(
        client=as_root,
        body=CreateTenant(code=code, name="Python client", admin=NewTenantAdmin(username="admin", password=admin_password)),
    )
    if isinstance(created, ErrorEnvelope) or created is None:
        sys.exit(f"tenant creation failed: {created!r}")
    admin = must(
        login.sync(client=anonymous, body=LoginRequest(tenant=code, username="admin", password=admin_password)),
        TokenPair,
        "admin sign-in",
    )
    client = AuthenticatedClient(base_url=base, token=admin.access_token)
    earned = must(
        points_earn.sync(client=client, body=EarnRequest(member_id="m-1", points_amount=100, category=Category.PAYMENT, reason="order 1")),
        EntryResult,
        "earn",
    )
    spent = must(points_spend.sync(client=client, body=SpendRequest(member_id="m-1", points_amount=30)), EntryResult, "spend")
    profile = must(points_get_profile.sync("m-1", client=client), ProfileView, "balance")
    refused = points_spend.sync_detailed(client=client, body=SpendRequest(member_id="m-1", points_amount=1000))
    envelope = must(refused.parsed, ErrorEnvelope, "the refusal's envelope")
    if (earned.balance_after, spent.balance_after, profile.total_points) != (100, 70, 70):
        sys.exit(f"unexpected balances: {earned.balance_after} {spent.balance_after} {profile.total_points}")
    if refused.status_code != 409 or envelope.error.code != ErrorInfoCode.INSUFFICIENT_POINTS:
        sys.exit(f"expected 409 INSUFFICIENT_POINTS, got {refused.status_code} {envelope.error.code}")
    print(
        f"python client: earn → {earned.balance_after}, spend → {spent.balance_after}, "
        f"balance {profile.total_points}, refusal {envelope.error.code.value}"
    )


if __name__ == "__main__":
    main()
