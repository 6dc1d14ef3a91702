"""A fake Hugging Face Hub on 127.0.0.1 that serves model repos to the real ``huggingface_hub`` client.

It implements what ``snapshot_download`` (huggingface_hub 2.4.0) calls, with the headers the client reads:

- ``GET /api/models/{repo_id}/revision/{rev}`` (and ``/api/models/{repo_id}``): repo info JSON, ``sha`` and
  ``siblings`` (``HfApi.model_info``);
- ``GET /api/models/{repo_id}/tree/{rev}[/{path}]``: the file listing (``HfApi.list_repo_tree``), with
  ``oid``, ``size`` and ``lfs`` for LFS files;
- ``HEAD`` / ``GET /{repo_id}/resolve/{rev}/{filename}``: ``X-Repo-Commit``, ``ETag`` (the git blob id, or
  the sha256 for LFS files, also in ``X-Linked-Etag`` / ``X-Linked-Size``) and ``Content-Length``
  (``get_hf_file_metadata``, then ``http_get``);
- errors as the Hub sends them: an ``X-Error-Code`` header (``RepoNotFound``, ``RevisionNotFound``,
  ``EntryNotFound``; ``hf_raise_for_status`` reads it) and an ``X-Error-Message``.

and what ``HfApi.create_repo``, ``create_branch`` and ``create_commit`` call to upload (``jedi-train push``):

- ``POST /api/repos/create``: JSON ``name``, ``organization``, ``type``, ``visibility``; answers ``url``, or
  409 with ``url`` when the repo exists (``exist_ok=True`` reads the url from the 409). A new repo has one
  commit on ``main`` holding ``.gitattributes``, as on the Hub. The request bodies are kept in ``created``;
- ``POST /api/models/{repo_id}/branch/{branch}``: a branch from ``startingPoint`` or ``main``; 409 if it exists;
- ``POST /api/validate-yaml``: the README check ``create_commit`` makes first; a card without YAML metadata
  gets a warning (the client turns it into a Python warning), nothing is an error;
- ``POST /api/models/{repo_id}/preupload/{rev}``: ``uploadMode: "regular"`` and ``shouldIgnore: false`` for
  every file, so the client sends the bytes inline in the commit (no LFS or Xet transfer, hf_xet or not),
  and the ``oid`` (git blob id) of a file the branch already holds, so unchanged files are not sent again;
- ``POST /api/models/{repo_id}/commit/{rev}``: NDJSON, a ``header`` line then ``file`` lines with base64
  ``content`` (``deletedFile`` too); the new commit holds the parent's files plus these and the branch moves
  to it; answers ``commitOid``, ``commitUrl``, ``success``. ``lfsFile`` lines are refused (400).

Writes need ``Authorization: Bearer <token>``: none, or a token in ``revoked_tokens``, is a 401 (the
latter with the Hub's ``Invalid credentials in Authorization header``); one in ``read_only_tokens`` a 403.

Revisions are branch or tag names or full commit shas. Every request is logged in ``FakeHub.requests``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class FakeHub:
    """Model repos served over HTTP; use as a context manager, point ``HF_ENDPOINT`` at ``endpoint``."""

    def __init__(self) -> None:
        self.refs: dict[str, dict[str, str]] = {}  # repo id -> branch/tag/sha -> commit sha
        self.commits: dict[str, dict[str, bytes]] = {}  # commit sha -> files
        self.requests: list[tuple[str, str]] = []  # (method, decoded path)
        self.created: dict[str, dict] = {}  # repo id -> the JSON body of its POST /api/repos/create
        self.messages: dict[str, str] = {}  # commit sha -> the summary of a commit POSTed to the hub
        self.read_only_tokens: set[str] = set()  # 403 on writes
        self.revoked_tokens: set[str] = set()  # 401 on writes
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHub:  # noqa: PYI034 - FakeHub is not subclassed
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_commit(self, repo_id: str, files: dict[str, bytes], refs: tuple[str, ...] = ("main",)) -> str:
        """Add a commit holding ``files`` to ``repo_id`` and point ``refs`` at it; returns its sha."""
        digest = hashlib.sha1(f"{repo_id} {len(self.commits)}".encode())
        for name in sorted(files):
            digest.update(name.encode() + git_blob_id(files[name]).encode())
        sha = digest.hexdigest()
        self.commits[sha] = dict(files)
        repo = self.refs.setdefault(repo_id, {})
        repo[sha] = sha
        for ref in refs:
            repo[ref] = sha
        return sha

    def add_folder(
        self, repo_id: str, folder: Path, refs: tuple[str, ...] = ("main",), extra: dict[str, bytes] | None = None
    ) -> str:
        """Add a commit with every file of ``folder`` (plus ``extra``); returns its sha."""
        files = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}
        return self.add_commit(repo_id, {**files, **(extra or {})}, refs)

    def downloads(self) -> list[str]:
        """The paths of every file GET so far."""
        return [path for method, path in self.requests if method == "GET" and "/resolve/" in path]


def _is_lfs(name: str) -> bool:
    return name.endswith((".safetensors", ".bin"))


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def do_GET(self) -> None:
            self._serve(body=True)

        def _serve(self, body: bool) -> None:
            parts = [unquote(p) for p in urlsplit(self.path).path.strip("/").split("/")]
            hub.requests.append((self.command, "/" + "/".join(parts)))
            if parts[:2] == ["api", "models"] and len(parts) >= 4:
                repo_id, rest = "/".join(parts[2:4]), parts[4:]
                if not rest:
                    return self._repo_info(repo_id, "main")
                if rest[0] == "revision" and len(rest) == 2:
                    return self._repo_info(repo_id, rest[1])
                if rest[0] == "tree" and len(rest) >= 2:
                    return self._tree(repo_id, rest[1], "/".join(rest[2:]))
            if len(parts) >= 5 and parts[2] == "resolve":
                return self._resolve("/".join(parts[:2]), parts[3], "/".join(parts[4:]), body)
            self._send(404, b'{"error": "Not Found"}', {"Content-Type": "application/json"}, body)

        def do_POST(self) -> None:
            data = self._read_body()  # first: an answer before the body is read would desync keep-alive
            parts = [unquote(p) for p in urlsplit(self.path).path.strip("/").split("/")]
            hub.requests.append((self.command, "/" + "/".join(parts)))
            if parts == ["api", "validate-yaml"]:
                return self._validate_yaml(json.loads(data))
            if not self._authorized():
                return None
            if parts == ["api", "repos", "create"]:
                return self._create_repo(json.loads(data))
            if parts[:2] == ["api", "models"] and len(parts) == 6:
                repo_id, action, rev = "/".join(parts[2:4]), parts[4], parts[5]
                if action == "branch":
                    return self._create_branch(repo_id, rev, json.loads(data or b"{}"))
                if action == "preupload":
                    return self._preupload(repo_id, rev, json.loads(data))
                if action == "commit":
                    return self._new_commit(repo_id, rev, [json.loads(line) for line in data.splitlines() if line])
            return self._send(404, b'{"error": "Not Found"}', {"Content-Type": "application/json"}, True)

        def _read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))
            data = b""
            while size := int(self.rfile.readline().split(b";")[0], 16):
                data += self.rfile.read(size)
                self.rfile.readline()
            while self.rfile.readline().strip():  # trailers, then the blank line
                pass
            return data

        def _authorized(self) -> bool:
            """Whether the request carries a write token; else the Hub's 401 or 403 is sent."""
            token = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            if not token or token in hub.revoked_tokens:
                message = "Invalid credentials in Authorization header" if token else "You must be authenticated"
                self._send_error(401, None, message)
                return False
            if token in hub.read_only_tokens:
                self._send_error(403, None, "You don't have the rights to write to this repo")
                return False
            return True

        def _create_repo(self, payload: dict) -> None:
            repo_id = f"{payload.get('organization')}/{payload['name']}"
            url = f"{hub.endpoint}/{repo_id}"
            if repo_id in hub.refs:
                return self._json({"error": "You already created this model repo", "url": url}, 409)
            hub.created[repo_id] = payload
            hub.add_commit(repo_id, {".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"})
            return self._json({"url": url, "name": repo_id, "id": repo_id})

        def _create_branch(self, repo_id: str, branch: str, payload: dict) -> None:
            sha = self._commit(repo_id, payload.get("startingPoint") or "main")
            if sha is None:
                return None
            if branch in hub.refs[repo_id]:
                return self._send_error(409, None, f"Reference refs/heads/{branch} already exists")
            hub.refs[repo_id][branch] = sha
            return self._json({})

        def _validate_yaml(self, payload: dict) -> None:
            warnings = []
            if not payload.get("content", "").startswith("---"):
                warnings.append({"message": "empty or missing yaml metadata in repo card"})
            self._json({"errors": [], "warnings": warnings})

        def _preupload(self, repo_id: str, rev: str, payload: dict) -> None:
            sha = self._commit(repo_id, rev)
            if sha is not None:
                held = hub.commits[sha]
                files = [
                    {
                        "path": f["path"],
                        "uploadMode": "regular",
                        "shouldIgnore": False,
                        "oid": git_blob_id(held[f["path"]]) if f["path"] in held else None,
                    }
                    for f in payload["files"]
                ]
                self._json({"files": files, "commitOid": sha})

        def _new_commit(self, repo_id: str, rev: str, lines: list[dict]) -> None:
            parent = self._commit(repo_id, rev)
            if parent is None:
                return None
            if rev in hub.commits:
                return self._send_error(400, None, f"Invalid rev id: {rev} is a commit, not a branch")
            files = dict(hub.commits[parent])
            header = lines[0]["value"] if lines and lines[0]["key"] == "header" else {}
            for line in lines[1:]:
                value = line["value"]
                if line["key"] == "file" and value.get("encoding") == "base64":
                    files[value["path"]] = base64.b64decode(value["content"])
                elif line["key"] == "deletedFile":
                    if files.pop(value["path"], None) is None:
                        return self._send_error(404, "EntryNotFound", "A file with this name doesn't exist")
                else:  # lfsFile: this hub stores no LFS objects (preupload never asks for them)
                    return self._send_error(400, None, f"unsupported commit operation {line['key']}")
            sha = hub.add_commit(repo_id, files, refs=(rev,))
            hub.messages[sha] = header.get("summary", "")
            return self._json(
                {"success": True, "commitOid": sha, "commitUrl": f"{hub.endpoint}/{repo_id}/commit/{sha}"}
            )

        def _commit(self, repo_id: str, rev: str, body: bool = True) -> str | None:
            """The commit sha of ``rev`` in ``repo_id``, or None after sending the Hub's 404."""
            if repo_id not in hub.refs:
                self._error("RepoNotFound", "Repository not found", body)
                return None
            if rev not in hub.refs[repo_id]:
                self._error("RevisionNotFound", f"Invalid rev id: {rev}", body)
                return None
            return hub.refs[repo_id][rev]

        def _repo_info(self, repo_id: str, rev: str) -> None:
            sha = self._commit(repo_id, rev)
            if sha is not None:
                info = {
                    "_id": sha[:24],
                    "id": repo_id,
                    "modelId": repo_id,
                    "author": repo_id.split("/")[0],
                    "sha": sha,
                    "lastModified": "2025-01-01T00:00:00.000Z",
                    "private": False,
                    "disabled": False,
                    "gated": False,
                    "downloads": 0,
                    "likes": 0,
                    "tags": [],
                    "library_name": "jedi-play",
                    "siblings": [{"rfilename": name} for name in sorted(hub.commits[sha])],
                    "createdAt": "2025-01-01T00:00:00.000Z",
                }
                self._json(info)

        def _tree(self, repo_id: str, rev: str, prefix: str) -> None:
            sha = self._commit(repo_id, rev)
            if sha is None:
                return
            entries = []
            for name, data in sorted(hub.commits[sha].items()):
                if prefix and not name.startswith(prefix.rstrip("/") + "/"):
                    continue
                entry: dict = {"type": "file", "oid": git_blob_id(data), "size": len(data), "path": name}
                if _is_lfs(name):
                    entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
                entries.append(entry)
            self._json(entries)

        def _resolve(self, repo_id: str, rev: str, filename: str, body: bool) -> None:
            sha = self._commit(repo_id, rev, body)
            if sha is None:
                return
            files = hub.commits[sha]
            if filename not in files:
                return self._error("EntryNotFound", f"{filename} does not exist on {rev}", body, {"X-Repo-Commit": sha})
            data = files[filename]
            headers = {"Content-Type": "application/octet-stream", "X-Repo-Commit": sha, "Accept-Ranges": "bytes"}
            if _is_lfs(filename):
                etag = hashlib.sha256(data).hexdigest()
                headers.update({"ETag": f'"{etag}"', "X-Linked-Etag": f'"{etag}"', "X-Linked-Size": str(len(data))})
            else:
                headers["ETag"] = f'"{git_blob_id(data)}"'
            self._send(200, data, headers, body)

        def _json(self, value: object, status: int = 200) -> None:
            self._send(status, json.dumps(value).encode(), {"Content-Type": "application/json"}, True)

        def _error(self, code: str, message: str, body: bool, extra: dict[str, str] | None = None) -> None:
            self._send_error(404, code, message, body, extra)

        def _send_error(
            self, status: int, code: str | None, message: str, body: bool = True, extra: dict[str, str] | None = None
        ) -> None:
            headers = {"Content-Type": "application/json", "X-Error-Message": message, **(extra or {})}
            if code is not None:
                headers["X-Error-Code"] = code
            self._send(status, json.dumps({"error": message}).encode(), headers, body)

        def _send(self, status: int, data: bytes, headers: dict[str, str], body: bool) -> None:
            self.send_response(status)
            for key, value in {**headers, "Content-Length": str(len(data)), "X-Request-Id": "fake-hub"}.items():
                self.send_header(key, value)
            self.end_headers()
            if body:
                self.wfile.write(data)

    return Handler
