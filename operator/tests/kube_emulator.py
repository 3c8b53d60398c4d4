"""A Kubernetes API emulator for the operator's tests, over real HTTP.

kmock's KubernetesEmulator serves Kubernetes-shaped requests from memory; this subclass
adds what the operator's client relies on and the base emulator keeps simple:
resourceVersion/uid/generation/creationTimestamp, label selectors on list and watch,
watches that resume from a resourceVersion, server-side apply that creates, JSON merge
and JSON patches, optimistic concurrency (409 on a stale resourceVersion), the status
subresource, finalizers and deletionTimestamp, and owner-reference garbage collection.

usage: python kube_emulator.py   (prints "PORT <n>" once listening on 127.0.0.1; runs
until stdin closes, so it never outlives the test that started it)
"""

import asyncio
import copy
import datetime
import json
import sys
import uuid

import aiohttp.web
import jsonpatch
import kmock
import yaml


class ApiError(Exception):
    def __init__(self, code, reason, message):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


def merge(target, patch):
    """RFC 7386 JSON merge patch (lists are replaced, null removes)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge(out.get(k), v)
    return out


def parse_selector(text):
    terms = []
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        if "!=" in part:
            k, v = part.split("!=", 1)
            terms.append(("ne", k.strip(), v.strip()))
        elif "==" in part or "=" in part:
            k, v = part.replace("==", "=").split("=", 1)
            terms.append(("eq", k.strip(), v.strip()))
        elif part.startswith("!"):
            terms.append(("absent", part[1:].strip(), None))
        else:
            terms.append(("exists", part, None))
    return terms


def matches(obj, label_terms, field_terms):
    labels = obj.get("metadata", {}).get("labels") or {}
    for op, k, v in label_terms:
        if op == "eq" and labels.get(k) != v:
            return False
        if op == "ne" and labels.get(k) == v:
            return False
        if op == "exists" and k not in labels:
            return False
        if op == "absent" and k in labels:
            return False
    meta = obj.get("metadata", {})
    for op, k, v in field_terms:
        actual = {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace")}.get(k)
        if op == "eq" and actual != v:
            return False
        if op == "ne" and actual == v:
            return False
    return True


class Emulator(kmock.KubernetesEmulator):
    def __attrs_post_init__(self):
        super().__attrs_post_init__()
        self.store = {}  # (group, version, plural, namespace, name) -> object
        self.log = []  # (rv, (group, version, plural), type, object)
        self.rv = 0
        self.changed = asyncio.Condition()

    # -- bookkeeping ---------------------------------------------------------------
    def _next_rv(self):
        self.rv += 1
        return str(self.rv)

    async def _emit(self, res, type_, obj):
        self.log.append((self.rv, res, type_, copy.deepcopy(obj)))
        async with self.changed:
            self.changed.notify_all()

    async def _remove(self, key, obj):
        obj["metadata"]["resourceVersion"] = self._next_rv()
        del self.store[key]
        await self._emit(key[:3], "DELETED", obj)
        # Garbage collection: dependents whose owner is gone go too.
        uid = obj["metadata"].get("uid")
        for k, o in list(self.store.items()):
            owners = o.get("metadata", {}).get("ownerReferences") or []
            if k[3] == key[3] and any(r.get("uid") == uid for r in owners):
                await self._delete(k)

    async def _delete(self, key):
        obj = self.store.get(key)
        if obj is None:
            raise ApiError(404, "NotFound", f"{key[2]} {key[4]!r} not found")
        meta = obj["metadata"]
        if meta.get("finalizers"):
            if not meta.get("deletionTimestamp"):
                meta["deletionTimestamp"] = now()
                meta["resourceVersion"] = self._next_rv()
                await self._emit(key[:3], "MODIFIED", obj)
        else:
            await self._remove(key, obj)
        return obj

    async def _create(self, key, obj):
        if key in self.store:
            raise ApiError(409, "AlreadyExists", f"{key[2]} {key[4]!r} already exists")
        meta = obj.setdefault("metadata", {})
        meta.pop("resourceVersion", None)
        if key[3] is not None:
            meta["namespace"] = key[3]
        meta["name"] = key[4]
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now()
        meta["generation"] = 1
        meta["resourceVersion"] = self._next_rv()
        self.store[key] = obj
        await self._emit(key[:3], "ADDED", obj)
        return obj

    async def _update(self, key, old, new, subresource):
        new_meta = new.setdefault("metadata", {})
        sent_rv = new_meta.pop("resourceVersion", None)
        if sent_rv and sent_rv != old["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", f"{key[4]}: the object has been modified")
        if subresource == "status":
            result = copy.deepcopy(old)
            if "status" in new:
                result["status"] = new["status"]
            else:
                result.pop("status", None)
        else:
            result = new
            if "status" in old:
                result["status"] = old["status"]
            else:
                result.pop("status", None)
            for k in ("uid", "creationTimestamp", "name", "namespace", "deletionTimestamp", "generation"):
                if k in old["metadata"]:
                    result["metadata"][k] = old["metadata"][k]
            strip = lambda o: {k: v for k, v in o.items() if k not in ("metadata", "status")}
            if strip(old) != strip(result):
                result["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
        result["metadata"]["resourceVersion"] = self._next_rv()
        self.store[key] = result
        meta = result["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            await self._remove(key, result)
        else:
            await self._emit(key[:3], "MODIFIED", result)
        return result

    # -- HTTP ----------------------------------------------------------------------
    async def _handle(self, request):
        res = request.resource
        if res is None or not res.plural or request.method is None:
            return await super()._handle(request)
        try:
            return await self._serve(request)
        except ApiError as e:
            return aiohttp.web.json_response(
                {"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure",
                 "code": e.code, "reason": e.reason, "message": e.message}, status=e.code)

    async def _serve(self, request):
        res = (request.resource.group or "", request.resource.version, request.resource.plural)
        ns, name, sub = request.namespace, request.name, request.subresource
        method = str(getattr(request.method, "value", request.method)).upper()
        params = request.params
        key = (*res, ns, name)
        body = request.data
        if isinstance(body, (bytes, str)) or (body is None and request.text.strip()):
            body = yaml.safe_load(request.text)

        if method == "GET" and params.get("watch") in ("true", "1"):
            return await self._watch(request, res, ns, params)
        if method == "GET" and name is None:
            labels = parse_selector(params.get("labelSelector"))
            fields = parse_selector(params.get("fieldSelector"))
            items = [copy.deepcopy(o) for k, o in sorted(self.store.items())
                     if k[:3] == res and (ns is None or k[3] == ns) and matches(o, labels, fields)]
            return aiohttp.web.json_response(
                {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": str(self.rv)}, "items": items})
        if method == "GET":
            if key not in self.store:
                raise ApiError(404, "NotFound", f"{res[2]} {name!r} not found")
            return aiohttp.web.json_response(self.store[key])
        if method == "POST":
            name = (body.get("metadata") or {}).get("name")
            if not name:
                name = (body.get("metadata") or {}).get("generateName", "obj-") + uuid.uuid4().hex[:5]
            obj = await self._create((*res, ns, name), body)
            return aiohttp.web.json_response(obj, status=201)
        if method == "DELETE":
            obj = await self._delete(key)
            return aiohttp.web.json_response(obj)
        if method == "PUT":
            if key not in self.store:
                raise ApiError(404, "NotFound", f"{res[2]} {name!r} not found")
            obj = await self._update(key, self.store[key], body, sub)
            return aiohttp.web.json_response(obj)
        if method == "PATCH":
            ctype = request.headers.get("Content-Type", "")
            old = self.store.get(key)
            if old is None:
                if "apply-patch" in ctype and sub is None:
                    obj = await self._create(key, body)
                    return aiohttp.web.json_response(obj, status=201)
                raise ApiError(404, "NotFound", f"{res[2]} {name!r} not found")
            if "json-patch" in ctype:
                try:
                    new = jsonpatch.apply_patch(old, body)
                except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as e:
                    raise ApiError(422, "Invalid", str(e))
            else:
                rv = (body.get("metadata") or {}).get("resourceVersion")
                new = merge(old, body)
                new["metadata"]["resourceVersion"] = rv or old["metadata"]["resourceVersion"]
            obj = await self._update(key, old, copy.deepcopy(new), sub)
            return aiohttp.web.json_response(obj)
        raise ApiError(405, "MethodNotAllowed", method)

    async def _watch(self, request, res, ns, params):
        labels = parse_selector(params.get("labelSelector"))
        fields = parse_selector(params.get("fieldSelector"))
        timeout = float(params.get("timeoutSeconds", 60))
        start = params.get("resourceVersion") or "0"
        resp = aiohttp.web.StreamResponse()
        resp.content_type = "application/json"
        await resp.prepare(request._raw_request)
        last = int(start) if start.isdigit() else 0
        if last == 0:
            last = self.rv
            for k, o in sorted(self.store.items()):
                if k[:3] == res and (ns is None or k[3] == ns) and matches(o, labels, fields):
                    await resp.write(json.dumps({"type": "ADDED", "object": o}).encode() + b"\n")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while loop.time() < deadline:
                for rv, r, type_, obj in [e for e in self.log if e[0] > last]:
                    last = rv
                    meta = obj.get("metadata", {})
                    if r == res and (ns is None or meta.get("namespace") == ns) and matches(obj, labels, fields):
                        await resp.write(json.dumps({"type": type_, "object": obj}).encode() + b"\n")
                async with self.changed:
                    try:
                        await asyncio.wait_for(self.changed.wait(), timeout=max(0.05, deadline - loop.time()))
                    except asyncio.TimeoutError:
                        pass
        except (ConnectionResetError, asyncio.CancelledError):
            return resp
        await resp.write_eof()
        return resp


def now():
    return datetime.datetime.now(tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


async def main():
    async with Emulator() as emulator, kmock.Server(emulator) as server:
        print(f"PORT {server.port}", flush=True)
        loop = asyncio.get_running_loop()
        # Run until the parent closes stdin (or dies).
        await loop.run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(main())
