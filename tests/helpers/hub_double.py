"""TEST DOUBLE of the Hugging Face Hub HTTP API, serving on loopback for offline tests.

It implements the subset that ``huggingface_hub`` uses (with ``HF_HUB_DISABLE_XET=1``):
``create_repo``, ``create_branch``/``create_tag``, README metadata validation,
``upload_folder`` (pre-upload check, LFS batch with the ``basic`` transfer, PUT of each LFS
object, NDJSON commit), repo info, tree listing, and file download (``resolve`` with the
``X-Repo-Commit``/``ETag``/``X-Linked-Etag`` headers the client checks). Repos live in memory.
Writes need ``Authorization: Bearer <token>`` with the configured token; any other token gets
HTTP 401, as on the Hub.
"""

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

import yaml

LFS_SUFFIXES = (".safetensors", ".bin", ".onnx", ".png", ".pt")
TYPE_PREFIXES = {"model": "", "dataset": "datasets/", "space": "spaces/"}


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    private: bool
    sdk: str | None = None
    refs: dict[str, str] = field(default_factory=dict)  # branch or tag -> commit sha
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)  # sha -> {path: content}
    messages: dict[str, str] = field(default_factory=dict)

    def resolve(self, revision: str) -> str | None:
        if revision in self.refs:
            return self.refs[revision]
        return revision if revision in self.commits else None


class HubDouble:
    """In-memory Hub state plus the HTTP server that exposes it."""

    def __init__(self, token: str):
        self.token = token
        self.repos: dict[tuple[str, str], Repo] = {}
        self.lfs: dict[str, bytes] = {}
        self.requests: list[str] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "HubDouble":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def files(self, repo_id: str, revision: str = "main", repo_type: str = "model") -> dict[str, bytes]:
        repo = self.repos[(repo_type, repo_id)]
        return repo.commits[repo.resolve(revision)]

    def create_repo(self, repo_type: str, repo_id: str, private: bool, sdk: str | None) -> bool:
        with self.lock:
            if (repo_type, repo_id) in self.repos:
                return False
            repo = Repo(repo_type, repo_id, private, sdk)
            initial = {".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"}
            sha = _commit_sha(initial, "initial commit", None)
            repo.commits[sha], repo.messages[sha], repo.refs["main"] = initial, "initial commit", sha
            self.repos[(repo_type, repo_id)] = repo
            return True

    def commit(self, repo: Repo, revision: str, lines: list[dict]) -> str:
        with self.lock:
            parent = repo.resolve(revision)
            if parent is None or revision not in repo.refs:
                raise KeyError(revision)
            files = dict(repo.commits[parent])
            message = ""
            for line in lines:
                key, value = line["key"], line["value"]
                if key == "header":
                    message = value.get("summary", "")
                elif key == "file":
                    files[value["path"]] = base64.b64decode(value["content"])
                elif key == "lfsFile":
                    files[value["path"]] = self.lfs[value["oid"]]
                elif key == "deletedFile":
                    files.pop(value["path"], None)
                elif key == "deletedFolder":
                    files = {p: c for p, c in files.items() if not p.startswith(value["path"].rstrip("/") + "/")}
            sha = _commit_sha(files, message, parent)
            repo.commits[sha], repo.messages[sha], repo.refs[revision] = files, message, sha
            return sha


def _commit_sha(files: dict[str, bytes], message: str, parent: str | None) -> str:
    digest = hashlib.sha1(f"{message}\0{parent}".encode())
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + hashlib.sha1(files[path]).digest())
    return digest.hexdigest()


def _is_lfs(path: str, content: bytes) -> bool:
    return path.endswith(LFS_SUFFIXES)


def _handler_for(hub: HubDouble):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep test output clean
            pass

        # --- plumbing ---------------------------------------------------------------------
        def _send(self, status: int, body: bytes = b"", headers: dict | None = None, head: bool = False):
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head and self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: int, payload, headers: dict | None = None):
            self._send(status, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})})

        def _error(self, status: int, message: str, code: str | None = None):
            self._json(status, {"error": message}, {"X-Error-Code": code} if code else None)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _authorized(self) -> bool:
            return self.headers.get("Authorization") == f"Bearer {hub.token}"

        def _repo(self, repo_type: str, repo_id: str) -> Repo | None:
            repo = hub.repos.get((repo_type, repo_id))
            if repo is None or (repo.private and not self._authorized()):
                self._error(404, "Repository not found", "RepoNotFound")
                return None
            return repo

        def _route(self, method: str):
            parsed = urlparse(self.path)
            path = unquote(parsed.path)
            hub.requests.append(f"{method} {path}")
            for pattern, handler_name, methods in ROUTES:
                match = re.fullmatch(pattern, path)
                if match and method in methods:
                    return getattr(self, handler_name)(method, parse_qs(parsed.query), **match.groupdict())
            self._error(404, f"no route for {method} {path}")

        def do_GET(self):
            self._route("GET")

        def do_HEAD(self):
            self._route("HEAD")

        def do_POST(self):
            self._route("POST")

        def do_PUT(self):
            self._route("PUT")

        # --- endpoints --------------------------------------------------------------------
        def create_repo(self, method, query):
            payload = json.loads(self._body())
            if not self._authorized():
                return self._error(401, "Invalid credentials in Authorization header")
            repo_type = payload.get("type") or "model"
            repo_id = f"{payload['organization']}/{payload['name']}" if payload.get("organization") else payload["name"]
            private = payload.get("visibility") == "private" or bool(payload.get("private"))
            url = f"{hub.url}/{TYPE_PREFIXES[repo_type]}{repo_id}"
            if not hub.create_repo(repo_type, repo_id, private, payload.get("sdk")):
                return self._json(409, {"error": "You already created this repo", "url": url})
            self._json(200, {"url": url, "name": repo_id})

        def validate_yaml(self, method, query):
            """The card's YAML front matter must parse, as the Hub checks before a README is committed."""
            content = json.loads(self._body())["content"]
            match = re.match(r"^---\n(.*?)\n---\n", content, re.DOTALL)
            try:
                metadata = yaml.safe_load(match.group(1)) if match else None
            except yaml.YAMLError as err:
                return self._json(400, {"errors": [{"message": str(err)}]})
            if not isinstance(metadata, dict):
                return self._json(400, {"errors": [{"message": "README.md has no YAML metadata block"}]})
            self._json(200, {"warnings": []})

        def create_ref(self, method, query, repo_type, repo_id, kind, ref):
            if not self._authorized():
                return self._error(401, "Invalid credentials in Authorization header")
            repo = self._repo(repo_type, repo_id)
            if repo is None:
                return
            body = json.loads(self._body() or b"{}")
            name = body["tag"] if kind == "tag" else ref
            start = ref if kind == "tag" else body.get("startingPoint") or "main"
            if name in repo.refs:
                return self._error(409, f"{kind} {name} already exists")
            sha = repo.resolve(start)
            if sha is None:
                return self._error(404, f"revision {start} not found", "RevisionNotFound")
            repo.refs[name] = sha
            self._json(200, {"name": name})

        def preupload(self, method, query, repo_type, repo_id, revision):
            if not self._authorized():
                return self._error(401, "Invalid credentials in Authorization header")
            if self._repo(repo_type, repo_id) is None:
                return
            files = json.loads(self._body())["files"]
            modes = [
                {
                    "path": f["path"],
                    "uploadMode": "lfs" if _is_lfs(f["path"], b"") else "regular",
                    "shouldIgnore": False,
                }
                for f in files
            ]
            self._json(200, {"files": modes, "commitOid": None})

        def lfs_batch(self, method, query, prefix, repo_id):
            if not self._authorized():
                return self._error(401, "Invalid credentials")
            objects = []
            for obj in json.loads(self._body())["objects"]:
                entry = {"oid": obj["oid"], "size": obj["size"]}
                if obj["oid"] not in hub.lfs:
                    entry["actions"] = {"upload": {"href": f"{hub.url}/lfs-upload/{obj['oid']}", "header": {}}}
                objects.append(entry)
            self._json(200, {"transfer": "basic", "objects": objects})

        def lfs_upload(self, method, query, oid):
            content = self._body()
            if hashlib.sha256(content).hexdigest() != oid:
                return self._error(400, "sha256 mismatch")
            hub.lfs[oid] = content
            self._send(200)

        def commit(self, method, query, repo_type, repo_id, revision):
            if not self._authorized():
                return self._error(401, "Invalid credentials in Authorization header")
            repo = self._repo(repo_type, repo_id)
            if repo is None:
                return
            lines = [json.loads(line) for line in self._body().splitlines() if line.strip()]
            try:
                sha = hub.commit(repo, revision, lines)
            except KeyError:
                return self._error(404, f"Invalid rev id: {revision}", "RevisionNotFound")
            url = f"{hub.url}/{TYPE_PREFIXES[repo_type]}{repo_id}/commit/{sha}"
            self._json(200, {"commitUrl": url, "commitOid": sha, "pullRequestUrl": None})

        def repo_info(self, method, query, repo_type, repo_id, revision=None):
            repo = self._repo(repo_type, repo_id)
            if repo is None:
                return
            sha = repo.resolve(revision or "main")
            if sha is None:
                return self._error(404, f"Invalid rev id: {revision}", "RevisionNotFound")
            files = repo.commits[sha]
            self._json(
                200,
                {
                    "id": repo_id,
                    "sha": sha,
                    "private": repo.private,
                    "sdk": repo.sdk,
                    "tags": [],
                    "siblings": [{"rfilename": p, "size": len(c)} for p, c in sorted(files.items())],
                },
            )

        def _files_at(self, repo_type: str, repo_id: str, revision: str) -> tuple[str, dict[str, bytes]] | None:
            """The commit sha and files of a repo at a revision, or None after answering 404."""
            repo = self._repo(repo_type, repo_id)
            if repo is None:
                return None
            sha = repo.resolve(revision)
            if sha is None:
                self._error(404, f"Invalid rev id: {revision}", "RevisionNotFound")
                return None
            return sha, repo.commits[sha]

        def tree(self, method, query, repo_type, repo_id, revision, subpath=""):
            found = self._files_at(repo_type, repo_id, revision)
            if found is None:
                return
            _, files = found
            prefix = (subpath or "").strip("/")
            recursive = query.get("recursive", ["false"])[0].lower() == "true"
            entries, folders = [], set()
            for path, content in sorted(files.items()):
                if prefix and not path.startswith(prefix + "/"):
                    continue
                rest = path[len(prefix) + 1 :] if prefix else path
                if "/" in rest and not recursive:
                    folders.add(f"{prefix}/{rest.split('/')[0]}" if prefix else rest.split("/")[0])
                    continue
                entries.append(
                    {"type": "file", "path": path, "size": len(content), "oid": hashlib.sha1(content).hexdigest()}
                )
            entries += [{"type": "directory", "path": folder, "oid": "0" * 40, "size": 0} for folder in sorted(folders)]
            if prefix and not entries:
                return self._error(404, f"Entry not found: {prefix}", "EntryNotFound")
            self._json(200, entries)

        def resolve(self, method, query, prefix, repo_id, revision, filename):
            repo_type = {"": "model", "datasets/": "dataset", "spaces/": "space"}[prefix or ""]
            found = self._files_at(repo_type, repo_id, revision)
            if found is None:
                return
            sha, files = found
            content = files.get(filename)
            if content is None:
                return self._error(404, f"Entry not found: {filename}", "EntryNotFound")
            headers = {"X-Repo-Commit": sha, "ETag": f'"{hashlib.sha1(content).hexdigest()}"'}
            if _is_lfs(filename, content):
                headers["X-Linked-Etag"] = f'"{hashlib.sha256(content).hexdigest()}"'
                headers["X-Linked-Size"] = str(len(content))
            self._send(200, content, {"Content-Type": "application/octet-stream", **headers}, head=method == "HEAD")

    repo_id = r"(?P<repo_id>[^/]+/[^/]+)"
    kind = r"(?P<repo_type>model|dataset|space)s"
    ROUTES = [
        (r"/api/repos/create", "create_repo", {"POST"}),
        (r"/api/validate-yaml", "validate_yaml", {"POST"}),
        (rf"/api/{kind}/{repo_id}/preupload/(?P<revision>.+)", "preupload", {"POST"}),
        (rf"/api/{kind}/{repo_id}/commit/(?P<revision>.+)", "commit", {"POST"}),
        (rf"/api/{kind}/{repo_id}/(?P<kind>branch|tag)/(?P<ref>.+)", "create_ref", {"POST"}),
        (rf"/api/{kind}/{repo_id}/tree/(?P<revision>[^/]+)(?P<subpath>/.*)?", "tree", {"GET"}),
        (rf"/api/{kind}/{repo_id}/revision/(?P<revision>.+)", "repo_info", {"GET"}),
        (rf"/api/{kind}/{repo_id}", "repo_info", {"GET"}),
        (rf"/(?P<prefix>datasets/|spaces/)?{repo_id}\.git/info/lfs/objects/batch", "lfs_batch", {"POST"}),
        (r"/lfs-upload/(?P<oid>[0-9a-f]{64})", "lfs_upload", {"PUT"}),
        (rf"/(?P<prefix>datasets/|spaces/)?{repo_id}/resolve/(?P<revision>[^/]+)/(?P<filename>.+)", "resolve",
         {"GET", "HEAD"}),
    ]  # fmt: skip
    return Handler
