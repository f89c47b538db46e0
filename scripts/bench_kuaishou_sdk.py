"""The Python SDK (kwaixiaodian 1.0.3) side of `make bench`: the same work as
`modules/kuaishou/benches/kuaishou.rs`, driven through the SDK's public API.

  sign N                             requests built and signed per second (MD5, HMAC)
  pull URL ORDERS PAGE CONCURRENCY   every order pulled from the fake platform with
                                     AsyncKwaixiaodianClient.order.list, CONCURRENCY
                                     time windows at a time (asyncio.gather)

Prints one JSON line, with the process's peak RSS.
"""

import asyncio
import json
import resource
import sys
import time
from urllib.parse import quote_plus, urlencode

from kwaixiaodian import AsyncKwaixiaodianClient
from kwaixiaodian.auth import AuthConfig, SignMethod
from kwaixiaodian.auth.signature import SignatureManager
from kwaixiaodian.models.order import OrderListRequest

APP_KEY, APP_SECRET, SIGN_SECRET = "ks_bench_app", "as_bench_secret", "ss_bench_sign"
TOKEN = "bench-access-token"
T0 = 1_735_689_600_000


def peak_rss_mib():
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def sign(n):
    out = {"signed_requests": n}
    for name, method in (("md5_per_s", SignMethod.MD5), ("hmac_per_s", SignMethod.HMAC_SHA256)):
        manager = SignatureManager(
            AuthConfig(app_key=APP_KEY, app_secret=APP_SECRET, sign_secret=SIGN_SECRET, sign_method=method)
        )
        started = time.perf_counter()
        for _ in range(n):
            request = OrderListRequest(
                access_token=TOKEN, begin_time=T0, end_time=T0 + 86_400_000, page_size=100,
                cursor="MjAyNS0wMS0wMVQwMDowMDowMA==", api_version="1",
            )
            params = manager.build_signed_params(
                method=request.api_method, access_token=TOKEN,
                business_params=request.get_business_params(), version="1",
            )
            urlencode(params, quote_via=quote_plus)
        out[name] = round(n / (time.perf_counter() - started))
    print(json.dumps(out))


async def pull(url, n, page, concurrency):
    span = n * 1000 // concurrency
    async with AsyncKwaixiaodianClient(
        app_key=APP_KEY, app_secret=APP_SECRET, sign_secret=SIGN_SECRET, server_url=url
    ) as client:

        async def window(begin, end):
            requests, orders, cursor = 0, 0, None
            while True:
                answer = await client.order.list(
                    access_token=TOKEN, begin_time=begin, end_time=end, page_size=page, pcursor=cursor
                )
                requests += 1
                orders += len(answer.result or [])
                if not answer.result or answer.pcursor in (None, "", "nomore") or answer.pcursor == cursor:
                    return requests, orders
                cursor = answer.pcursor

        started = time.perf_counter()
        results = await asyncio.gather(
            *(window(T0 + w * span, T0 + (w + 1) * span) for w in range(concurrency))
        )
        elapsed = time.perf_counter() - started
    requests = sum(r[0] for r in results)
    orders = sum(r[1] for r in results)
    assert orders == n, f"pulled {orders} of {n} orders"
    print(json.dumps({
        "client": "kwaixiaodian 1.0.3", "orders": orders, "requests": requests, "seconds": round(elapsed, 3),
        "requests_per_s": round(requests / elapsed), "orders_per_s": round(orders / elapsed), "peak_rss_mib": peak_rss_mib(),
    }))


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "sign":
        sign(int(sys.argv[2]))
    else:
        asyncio.run(pull(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])))
