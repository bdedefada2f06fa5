"""Just enough Kubernetes protobuf to read the Job ``kubectl create job`` sends.

kubectl's typed clients write built-in kinds as ``application/vnd.kubernetes.protobuf``: the
magic ``k8s\\0``, then a ``runtime.Unknown`` (typeMeta, raw, contentEncoding, contentType)
whose ``raw`` is the object's message. The field numbers below are those of the
``generated.proto`` files of k8s.io/api batch/v1 and core/v1 and apimachinery's meta/v1, for
the fields kubectl sets; other fields are skipped. The emulator answers in JSON (kubectl
accepts both).
"""

from __future__ import annotations

from typing import Any

from .status import bad_request

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"

# message name -> field number -> (JSON name, kind): "s" string, "rs" repeated string,
# "i" integer, "b" bool, "map" map<string,string>, "r<Message>" repeated message, or a message.
_SCHEMA: dict[str, dict[int, tuple[str, str]]] = {
    "Unknown": {1: ("typeMeta", "TypeMeta"), 2: ("raw", "bytes")},
    "TypeMeta": {1: ("apiVersion", "s"), 2: ("kind", "s")},
    "Job": {1: ("metadata", "ObjectMeta"), 2: ("spec", "JobSpec"), 3: ("status", "Empty")},
    "ObjectMeta": {1: ("name", "s"), 2: ("generateName", "s"), 3: ("namespace", "s"),
                   11: ("labels", "map"), 12: ("annotations", "map"),
                   14: ("finalizers", "rs")},
    "JobSpec": {1: ("parallelism", "i"), 2: ("completions", "i"),
                3: ("activeDeadlineSeconds", "i"), 4: ("selector", "LabelSelector"),
                5: ("manualSelector", "b"), 6: ("template", "PodTemplateSpec"),
                7: ("backoffLimit", "i"), 8: ("ttlSecondsAfterFinished", "i"),
                9: ("completionMode", "s"), 10: ("suspend", "b")},
    "LabelSelector": {1: ("matchLabels", "map")},
    "PodTemplateSpec": {1: ("metadata", "ObjectMeta"), 2: ("spec", "PodSpec")},
    "PodSpec": {2: ("containers", "rContainer"), 3: ("restartPolicy", "s"),
                8: ("serviceAccountName", "s")},
    "Container": {1: ("name", "s"), 2: ("image", "s"), 3: ("command", "rs"),
                  4: ("args", "rs"), 5: ("workingDir", "s"), 8: ("resources", "Empty")},
    "Empty": {},
    "MapEntry": {1: ("key", "s"), 2: ("value", "s")},
}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise bad_request("protobuf: truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise bad_request("protobuf: varint too long")


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            out.append((number, value))
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise bad_request("protobuf: truncated field")
            out.append((number, data[pos:pos + length]))
            pos += length
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise bad_request(f"protobuf: unsupported wire type {wire}")
    return out


def _message(data: bytes, name: str) -> dict[str, Any]:
    schema = _SCHEMA[name]
    obj: dict[str, Any] = {}
    for number, value in _fields(data):
        if number not in schema:
            continue
        key, kind = schema[number]
        if kind == "i" and isinstance(value, int):
            obj[key] = value - (1 << 64) if value >= 1 << 63 else value
        elif kind == "b" and isinstance(value, int):
            obj[key] = bool(value)
        elif not isinstance(value, bytes):
            raise bad_request(f"protobuf: field {key} of {name} has the wrong wire type")
        elif kind == "bytes":
            obj[key] = value
        elif kind == "s":
            if value:  # gogo-protobuf writes unset optional strings as ""
                obj[key] = value.decode("utf-8", "replace")
        elif kind == "rs":
            obj.setdefault(key, []).append(value.decode("utf-8", "replace"))
        elif kind == "map":
            entry = _message(value, "MapEntry")
            obj.setdefault(key, {})[entry.get("key", "")] = entry.get("value", "")
        elif kind.startswith("r"):
            obj.setdefault(key, []).append(_message(value, kind[1:]))
        else:
            obj[key] = _message(value, kind)
    return obj


def decode_job(body: bytes) -> dict[str, Any]:
    """The Job of a protobuf request body, as the JSON object kubectl would have sent."""
    if not body.startswith(MAGIC):
        raise bad_request("protobuf: the body does not start with the k8s magic number")
    unknown = _message(body[len(MAGIC):], "Unknown")
    type_meta = unknown.get("typeMeta") or {}
    if type_meta.get("kind") not in (None, "Job"):
        raise bad_request(f'Job in version "v1" cannot be handled as a {type_meta.get("kind")}')
    job = _message(unknown.get("raw") or b"", "Job")
    return {"kind": "Job", "apiVersion": type_meta.get("apiVersion") or "batch/v1", **job}
