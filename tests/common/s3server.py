"""A real S3-compatible server for elirepo's tests: moto in server mode, with
signature checking on (a wrong secret is refused with SignatureDoesNotMatch),
plus a plain-http read-only "website endpoint" for apt and eliloader.

Started by tests/common/s3server.rs; prints one JSON line
{"endpoint", "website", "key", "secret", "bucket"} and runs until stdin closes.

One fix to moto is applied here, on purpose and only here: moto checks the
signature against the *decoded* request path and query, while S3 (and the SigV4
spec) sign the URI-encoded ones, so every key with a '+' (Debian versions are
full of them) and every listing with a prefix ("prefix=debian%2F") would be
refused. The patched check uses the raw request URI as the client sent it.
"""
import http.server, json, sys, threading
from urllib.parse import urlparse, unquote

import boto3, requests
from moto.core import authorization
from moto.core.responses import BaseResponse
from moto.server import ThreadedMotoServer
from moto.backends import get_backend

_orig = authorization.ActionAuthenticatorMixin._authenticate_and_authorize_action
_orig_setup = BaseResponse.setup_class


def _setup_keeping_raw_uri(self, request, full_url, headers, *a, **kw):
    env = getattr(request, "environ", None) or {}
    self._raw_uri = env.get("RAW_URI") or env.get("REQUEST_URI")
    return _orig_setup(self, request, full_url, headers, *a, **kw)


def _raw_path_auth(self, iam_request_cls, resource="*"):
    raw = getattr(self, "_raw_uri", None)
    if raw:
        u = urlparse(raw)
        saved = self.uri
        self.uri = "http://raw" + u.path + ("?" + u.query if u.query else "")
        try:
            return _orig(self, iam_request_cls, resource)
        finally:
            self.uri = saved
    return _orig(self, iam_request_cls, resource)


BaseResponse.setup_class = _setup_keeping_raw_uri
authorization.ActionAuthenticatorMixin._authenticate_and_authorize_action = _raw_path_auth

BUCKET = sys.argv[1] if len(sys.argv) > 1 else "repo"
srv = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
srv.start()
host, port = srv.get_host_and_port()
ep = f"http://{host}:{port}"
kw = dict(endpoint_url=ep, region_name="us-east-1",
          aws_access_key_id="setup", aws_secret_access_key="setup")
iam = boto3.client("iam", **kw)
iam.create_user(UserName="ci")
iam.put_user_policy(UserName="ci", PolicyName="all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
key = iam.create_access_key(UserName="ci")["AccessKey"]
boto3.client("s3", **kw).create_bucket(Bucket=BUCKET)
# From here on every request must be signed by the key above.
requests.post(f"{ep}/moto-api/reset-auth", data=b"0")


class Website(http.server.BaseHTTPRequestHandler):
    """GET/HEAD /<key> of the bucket, 404 when missing: S3's website endpoint."""

    def log_message(self, *a):
        pass

    def _obj(self):
        k = unquote(urlparse(self.path).path).lstrip("/")
        for acct in get_backend("s3").values():
            for be in acct.values():
                try:
                    b = be.buckets.get(BUCKET)
                    if b is not None and k in b.keys:
                        return b.keys[k]
                except Exception:
                    pass
        return None

    def _send(self, body):
        o = self._obj()
        if o is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = o.value
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        md = o.metadata
        self.send_header("Content-Type", md.get("Content-Type") or "binary/octet-stream")
        if md.get("Cache-Control"):
            self.send_header("Cache-Control", md.get("Cache-Control"))
        self.end_headers()
        if body:
            self.wfile.write(data)

    def do_GET(self):
        self._send(True)

    def do_HEAD(self):
        self._send(False)


web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Website)
threading.Thread(target=web.serve_forever, daemon=True).start()
print(json.dumps({"endpoint": ep, "website": f"http://127.0.0.1:{web.server_address[1]}",
                  "key": key["AccessKeyId"], "secret": key["SecretAccessKey"], "bucket": BUCKET}),
      flush=True)
sys.stdin.read()
srv.stop()
