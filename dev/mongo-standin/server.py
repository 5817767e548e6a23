"""mongo-standin: a MongoDB wire-protocol stand-in, for development and tests ONLY.

This is not a database. Data lives in memory and is gone when the process stops. There are
no transactions, no replication, no authentication (use a URI without credentials), no
durability, no TTL expiry and no schema validation, and only the commands the services use
are implemented. Deployments use real MongoDB (6.0 or later); code must never rely on
anything only this stand-in tolerates.

It speaks OP_MSG (plus the legacy OP_QUERY handshake some drivers send first) on one
asyncio loop, so every command runs alone and single-document writes are atomic. Query
matching and aggregation come from the `mongomock` library; documents, indexes (hash maps,
also used to answer equality lookups without a scan), update operators and cursors are
here, because mongomock scans the collection on every write and lacks positional updates.
Refused with code 115 (CommandNotSupported) rather than answered wrongly: collations,
views, $out/$merge, explain, positional projection and $meta sorts.

    python server.py --host 127.0.0.1 --port 27017    (--port 0 picks a free port)
"""
import argparse
import asyncio
import copy
import datetime
import decimal
import itertools
import logging
import operator
import random
import re
import signal
import struct
import sys
import time

import bson
import mongomock
from bson import Decimal128, Int64, ObjectId
from bson.codec_options import CodecOptions, DatetimeConversion
from bson.raw_bson import RawBSONDocument
from mongomock import aggregate as mm_aggregate
from mongomock import filtering

log = logging.getLogger("mongo-standin")
CODEC = CodecOptions(document_class=dict, datetime_conversion=DatetimeConversion.DATETIME_AUTO)
MAX_BSON = 16 * 1024 * 1024
MAX_MESSAGE = 48_000_000
BATCH_BYTES = MAX_BSON - 64 * 1024  # leave room for the reply envelope around a batch
OP_REPLY, OP_QUERY, OP_MSG = 1, 2004, 2013
CHECKSUM_PRESENT, MORE_TO_COME = 1, 2
HEADER = struct.Struct("<iiii")
# Fields every command may carry that the stand-in has no use for.
GENERIC_FIELDS = {"$db", "lsid", "$clusterTime", "txnNumber", "$readPreference", "apiVersion",
                  "apiStrict", "apiDeprecationErrors", "writeConcern", "readConcern", "comment",
                  "maxTimeMS", "autocommit", "$client"}


# ---------------------------------------------------------------- errors
CODE_NAMES = {1: "InternalError", 2: "BadValue", 9: "FailedToParse", 14: "TypeMismatch",
              20: "IllegalOperation", 26: "NamespaceNotFound", 27: "IndexNotFound",
              28: "PathNotViable", 40: "ConflictingUpdateOperators", 43: "CursorNotFound",
              48: "NamespaceExists", 52: "DollarPrefixedFieldName", 59: "CommandNotFound",
              66: "ImmutableField", 72: "InvalidOptions", 73: "InvalidNamespace",
              85: "IndexOptionsConflict", 86: "IndexKeySpecsConflict",
              115: "CommandNotSupported", 11000: "DuplicateKey"}


class MongoError(Exception):
    def __init__(self, code, msg, **extra):
        super().__init__(msg)
        self.code, self.msg, self.extra = code, msg, extra


def as_mongo_error(exc):
    if isinstance(exc, MongoError):
        return exc
    if isinstance(exc, mongomock.OperationFailure):  # bad query operators and the like
        return MongoError(exc.code or 2, str(exc))
    if isinstance(exc, NotImplementedError):
        return MongoError(115, f"not supported by mongo-standin: {exc}")
    # Anything else is most likely a stand-in bug: keep the traceback.
    log.exception("unexpected error")
    code = 2 if isinstance(exc, (ValueError, TypeError, KeyError, IndexError)) else 1
    return MongoError(code, f"{type(exc).__name__}: {exc}")


def no_collation(spec):
    # Silently ignoring a collation would give wrong answers, so refuse it.
    collation = spec.get("collation") if isinstance(spec, dict) else None
    if collation and collation.get("locale") != "simple":
        raise MongoError(115, "collations are not supported by mongo-standin")


def want(cmd, key, types, default=None):
    value = cmd.get(key, default)
    if value is not default and not isinstance(value, types):
        raise MongoError(14, f"BSON field '{key}' is the wrong type '{type(value).__name__}'")
    return value


# ---------------------------------------------------------------- mongomock fixes
def _decimal_aware(compare):
    # mongomock cannot order Decimal128; compare it as a Python Decimal (which it can).
    def bson_compare(op, a, b, can_compare_types=True):
        a = a.to_decimal() if isinstance(a, Decimal128) else a
        b = b.to_decimal() if isinstance(b, Decimal128) else b
        return compare(op, a, b, can_compare_types)
    return bson_compare


filtering.bson_compare = _decimal_aware(filtering.bson_compare)
# Int64 is a subclass of int, so mongomock's $type told int and long apart by magnitude.
filtering.TYPE_MAP.update({
    "int": lambda v: type(v) is int and -2**31 <= v < 2**31,
    "long": lambda v: isinstance(v, Int64) or (type(v) is int and not -2**31 <= v < 2**31),
    "null": lambda v: v is None,
    "timestamp": lambda v: isinstance(v, bson.Timestamp),
    "regex": lambda v: isinstance(v, (bson.Regex, re.Pattern)),
})
filtering.TYPE_MAP.update({num: filtering.TYPE_MAP[name] for num, name in {
    1: "double", 2: "string", 3: "object", 4: "array", 5: "binData", 7: "objectId", 8: "bool",
    9: "date", 10: "null", 11: "regex", 16: "int", 17: "timestamp", 18: "long",
    19: "decimal"}.items()})
matches = filtering.filter_applies


# ---------------------------------------------------------------- values and paths
MISSING = object()


def hkey(v):
    """Hashable form of a BSON value with MongoDB's equality (1 == 1.0, key order matters)."""
    if isinstance(v, dict):
        return ("{", tuple((k, hkey(x)) for k, x in v.items()))
    if isinstance(v, list):
        return ("[", tuple(hkey(x) for x in v))
    if isinstance(v, bool):
        return ("b", v)
    if isinstance(v, Decimal128):
        return v.to_decimal()
    try:
        hash(v)
        return v
    except TypeError:
        return ("?", repr(v))


def unhkey(k):
    """A value back from its hkey, for error messages."""
    if isinstance(k, decimal.Decimal):
        return Decimal128(k)
    if not isinstance(k, tuple):
        return k
    tag, v = k
    return {n: unhkey(x) for n, x in v} if tag == "{" else (
        [unhkey(x) for x in v] if tag == "[" else v)


def get_path(doc, parts):
    cur = doc
    for p in parts:
        if isinstance(cur, dict) and p in cur:
            cur = cur[p]
        elif isinstance(cur, list) and p.isdigit() and int(p) < len(cur):
            cur = cur[int(p)]
        else:
            return MISSING
    return cur


def parent_of(doc, parts, create):
    """The container holding parts[-1]; intermediate documents are created if `create`."""
    cur = doc
    for i, p in enumerate(parts):
        if isinstance(cur, list) and p.isdigit():
            if int(p) >= len(cur):
                if not create:
                    return None
                cur.extend([None] * (int(p) + 1 - len(cur)))
        elif not isinstance(cur, dict):
            if not create:
                return None
            raise MongoError(28, f"Cannot create field '{p}' in element "
                                 f"{{{parts[i - 1] if i else ''}: {cur!r}}}")
        if i == len(parts) - 1:
            return cur
        nxt = cur[int(p)] if isinstance(cur, list) else cur.get(p, MISSING)
        if nxt is MISSING or (nxt is None and isinstance(cur, list)):
            if not create:
                return None
            nxt = {}
            cur[int(p) if isinstance(cur, list) else p] = nxt
        cur = nxt


def cget(c, k):
    if isinstance(c, list):
        return c[int(k)] if int(k) < len(c) else MISSING
    return c.get(k, MISSING)


def cset(c, k, v):
    if isinstance(c, list):
        c[int(k)] = v
    else:
        c[k] = v


def is_num(v):
    return isinstance(v, (int, float, Decimal128)) and not isinstance(v, bool)


def arith(a, b, op):
    """a op b with MongoDB's type promotion (int32 -> int64 -> double / decimal)."""
    if isinstance(a, Decimal128) or isinstance(b, Decimal128):
        with decimal.localcontext(bson.decimal128.create_decimal128_context()) as ctx:
            dec = [x.to_decimal() if isinstance(x, Decimal128) else decimal.Decimal(x)
                   for x in (a, b)]
            return Decimal128(ctx.create_decimal(op(*dec)))
    r = op(a, b)
    if isinstance(a, float) or isinstance(b, float):
        return float(r)
    if isinstance(a, Int64) or isinstance(b, Int64) or not -2**31 <= r < 2**31:
        return Int64(r)
    return r


def same(a, b):
    return hkey(a) == hkey(b)


def sort_docs(docs, sort):
    for key, direction in reversed(list(sort.items())):
        if isinstance(direction, dict):
            raise MongoError(115, f"sorting by {direction} is not supported by mongo-standin")
        docs.sort(key=lambda d: filtering.resolve_sort_key(key, d), reverse=direction < 0)
    return docs


# ---------------------------------------------------------------- update operators
# Each takes the container, the last path part, the operator argument and the full path.
def op_set(c, k, arg, path):
    cset(c, k, copy.deepcopy(arg))


def op_unset(c, k, arg, path):
    if isinstance(c, list):
        c[int(k)] = None  # MongoDB keeps array positions stable
    else:
        c.pop(k, None)


def numeric(name, op, missing):
    def apply(c, k, arg, path):
        if not is_num(arg):
            raise MongoError(14, f"Cannot {name} with non-numeric argument: {{{path}: {arg!r}}}")
        cur = cget(c, k)
        if cur is MISSING:
            cset(c, k, missing(arg))
        elif not is_num(cur):
            raise MongoError(14, f"Cannot apply ${name} to a value of non-numeric type. "
                                 f"The field '{path}' has a non-numeric value {cur!r}")
        else:
            cset(c, k, arith(cur, arg, op))
    return apply


def extreme(op):
    def apply(c, k, arg, path):
        cur = cget(c, k)
        if cur is MISSING or filtering.bson_compare(op, arg, cur):
            cset(c, k, copy.deepcopy(arg))
    return apply


def op_current_date(c, k, arg, path):
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    if isinstance(arg, dict) and arg.get("$type") == "timestamp":
        cset(c, k, bson.Timestamp(int(now.timestamp()), 1))
    else:
        cset(c, k, now.replace(microsecond=now.microsecond // 1000 * 1000))


def the_array(c, k, path, create):
    cur = cget(c, k)
    if cur is MISSING and create:
        cur = []
    if cur is not MISSING and not isinstance(cur, list):
        raise MongoError(2, f"The field '{path}' must be an array but is of type "
                            f"{type(cur).__name__}")
    return cur


def each_of(arg, name):
    if isinstance(arg, dict) and "$each" in arg:
        if not isinstance(arg["$each"], list):
            raise MongoError(2, f"The argument to $each in {name} must be an array")
        return arg["$each"]
    return [arg]


def op_push(c, k, arg, path):
    arr = list(the_array(c, k, path, True))
    items = copy.deepcopy(each_of(arg, "$push"))
    mods = arg if isinstance(arg, dict) and "$each" in arg else {}
    unknown = set(mods) - {"$each", "$position", "$slice", "$sort"}
    if unknown:
        raise MongoError(2, f"Unrecognized clause in $push: {unknown.pop()}")
    pos = mods.get("$position", len(arr))
    arr[pos:pos] = items
    if isinstance(mods.get("$sort"), dict):
        sort_docs(arr, mods["$sort"])
    elif "$sort" in mods:
        arr.sort(key=filtering.BsonComparable, reverse=mods["$sort"] < 0)
    if "$slice" in mods:
        n = mods["$slice"]
        arr = arr[n:] if n < 0 else arr[:n]
    cset(c, k, arr)


def op_add_to_set(c, k, arg, path):
    arr = list(the_array(c, k, path, True))
    for item in each_of(arg, "$addToSet"):
        if not any(same(item, e) for e in arr):
            arr.append(copy.deepcopy(item))
    cset(c, k, arr)


def op_pop(c, k, arg, path):
    arr = the_array(c, k, path, False)
    if arr is not MISSING and arr:
        cset(c, k, arr[1:] if arg == -1 else arr[:-1])


def pull_matcher(cond):
    general = pull_matcher_general(cond)
    if isinstance(cond, dict) and len(cond) == 1:
        (field, values), = cond.items()
        if (not field.startswith("$") and "." not in field and isinstance(values, dict)
                and list(values) == ["$in"] and isinstance(values["$in"], list)
                and all(isinstance(v, str) for v in values["$in"])):
            # {field: {$in: [strings]}}, e.g. the outbox relay pulling the events it published:
            # a set lookup, as MongoDB's sorted $in, rather than every element against every value
            wanted = set(values["$in"])
            return lambda e: (e[field] in wanted
                              if isinstance(e, dict) and isinstance(e.get(field), str)
                              else general(e))
    return general


def pull_matcher_general(cond):
    if isinstance(cond, dict) and cond and all(k.startswith("$") for k in cond):
        return lambda e: matches({"v": cond}, {"v": e})  # e.g. {$gte: 6} on each element
    if isinstance(cond, dict):
        return lambda e: isinstance(e, dict) and matches(cond, e)  # a query on each element
    return lambda e: same(e, cond)


def op_pull(c, k, arg, path):
    arr = the_array(c, k, path, False)
    if arr is not MISSING:
        hit = pull_matcher(arg)
        cset(c, k, [e for e in arr if not hit(e)])


def op_pull_all(c, k, arg, path):
    arr = the_array(c, k, path, False)
    if arr is not MISSING:
        cset(c, k, [e for e in arr if not any(same(e, x) for x in arg)])


UPDATERS = {
    "$set": op_set, "$setOnInsert": op_set, "$unset": op_unset,
    "$inc": numeric("increment", operator.add, lambda a: a),
    "$mul": numeric("multiply", operator.mul, lambda a: arith(a, 0, operator.mul)),
    "$min": extreme(operator.lt), "$max": extreme(operator.gt),
    "$currentDate": op_current_date, "$push": op_push, "$addToSet": op_add_to_set,
    "$pop": op_pop, "$pull": op_pull, "$pullAll": op_pull_all,
    "$rename": None,  # handled inline: it touches two paths
}


# ---------------------------------------------------------------- update engine
def positional_index(arr, path, query):
    """Index of the first element of `arr` (at `path`) that the query's conditions match."""
    conds = []

    def collect(q):
        for k, v in q.items():
            if k == "$and":
                for sub in v:
                    collect(sub)
            elif k == path:
                conds.append(lambda e, v=v: matches({"v": v}, {"v": [e]}))
            elif k.startswith(path + "."):
                sub = {k[len(path) + 1:]: v}
                conds.append(lambda e, sub=sub: isinstance(e, dict) and matches(sub, e))
    collect(query)
    for i, e in enumerate(arr):
        if conds and all(cond(e) for cond in conds):
            return i
    raise MongoError(2, "The positional operator did not find the match needed from the query.")


def expand_path(doc, path, query, filters):
    """Concrete paths (lists of parts) for a path with $, $[] or $[name] in it."""
    parts = path.split(".")
    if not any(p.startswith("$") for p in parts):
        return [parts]
    out = [[]]
    for p in parts:
        if not p.startswith("$"):
            out = [pre + [p] for pre in out]
            continue
        nxt = []
        for pre in out:
            arr = get_path(doc, pre)
            if p == "$":
                if not isinstance(arr, list):
                    raise MongoError(2, "The positional operator did not find the match "
                                        "needed from the query.")
                nxt.append(pre + [str(positional_index(arr, ".".join(pre), query))])
                continue
            if not isinstance(arr, list):
                raise MongoError(2, f"The path '{'.'.join(pre)}' must exist in the document "
                                    "in order to apply array updates.")
            if p == "$[]":
                idx = range(len(arr))
            elif p.startswith("$[") and p.endswith("]"):
                name = p[2:-1]
                idx = [i for i, e in enumerate(arr) if matches(filters[name], {name: e})]
            else:
                raise MongoError(52, f"The dollar ($) prefixed field '{p}' in '{path}' "
                                     "is not allowed")
            nxt += [pre + [str(i)] for i in idx]
        out = nxt
    return out


def parse_array_filters(array_filters):
    filters = {}
    for f in array_filters or []:
        key = next((k for k in f if not k.startswith("$")), None)
        if key is None:
            raise MongoError(9, f"Cannot use an expression without a top-level field name "
                                f"in arrayFilters: {f}")
        name = key.split(".")[0]
        if name in filters:
            raise MongoError(9, f"Found multiple array filters with the same top-level "
                                f"field name {name}")
        filters[name] = f
    return filters


def is_replacement(u):
    return isinstance(u, dict) and not any(k.startswith("$") for k in u)


def check_conflicts(update):
    paths = sorted(p.split(".") for fields in update.values() for p in fields)
    for a, b in zip(paths, paths[1:]):
        if b[:len(a)] == a:
            raise MongoError(40, f"Updating the path '{'.'.join(b)}' would create a "
                                 f"conflict at '{'.'.join(a)}'")


def validate_update(u, filters):
    """Reject a malformed update before any document is looked at, as mongod does."""
    if isinstance(u, list) or is_replacement(u):
        return
    if not isinstance(u, dict):
        raise MongoError(9, "Update argument must be either an object or an array")
    for op, fields in u.items():
        if op not in UPDATERS:
            raise MongoError(9, f"Unknown modifier: {op}. Expected a valid update modifier "
                                "or pipeline-style update specified as an array")
        if not isinstance(fields, dict):
            raise MongoError(9, f"Modifiers operate on fields but we found type "
                                f"{type(fields).__name__} instead")
    check_conflicts(u)
    named = {p[2:-1] for fields in u.values() for path in fields
             for p in path.split(".") if p.startswith("$[") and p != "$[]"}
    for name in named - set(filters):
        raise MongoError(2, f"No array filter found for identifier '{name}'")
    for name in set(filters) - named:
        raise MongoError(9, f"The array filter for identifier '{name}' was not used "
                            "in the update")


def apply_update(old, u, query, filters, inserting, db):
    """A new document: `old` with update `u` applied. `old` itself is never modified."""
    if isinstance(u, list):  # pipeline-style update
        for stage in u:
            if any(k in ("$out", "$merge") for k in stage):
                raise MongoError(2, "$out and $merge are not allowed in an update pipeline")
        new = next(iter(mm_aggregate.process_pipeline([copy.deepcopy(old)], db, u, None)))
    elif not isinstance(u, dict):
        raise MongoError(9, "Update argument must be either an object or an array")
    elif is_replacement(u):
        if "_id" in u and "_id" in old and not same(u["_id"], old["_id"]):
            raise MongoError(66, "After applying the update, the (immutable) field '_id' was "
                                 f"found to have been altered to _id: {u['_id']!r}")
        new = {"_id": old["_id"]} if "_id" in old else {}
        new.update(copy.deepcopy({k: v for k, v in u.items() if k != "_id"}))
        if "_id" in u and "_id" not in old:
            new = {"_id": u["_id"], **new}
    else:
        validate_update(u, filters)
        new = copy.deepcopy(old)
        # MongoDB 5+ applies fields in path order (numeric parts numerically), which is
        # the order new fields end up in.
        todo = sorted(((path, op, arg) for op, fields in u.items() for path, arg in fields.items()
                       if op != "$setOnInsert" or inserting),
                      key=lambda t: [(0, int(p), "") if p.isdigit() else (1, 0, p)
                                     for p in t[0].split(".")])
        for path, op, arg in todo:
            if op == "$rename":
                rename(new, path, arg)
                continue
            for parts in expand_path(new, path, query, filters):
                c = parent_of(new, parts, op not in ("$unset", "$pop", "$pull", "$pullAll"))
                if c is not None:
                    UPDATERS[op](c, parts[-1], arg, ".".join(parts))
    if "_id" in old and not same(new.get("_id"), old["_id"]):
        raise MongoError(66, "Performing an update on the path '_id' would modify the "
                             "immutable field '_id'")
    return new


def rename(doc, src, dst):
    if not isinstance(dst, str) or "$" in src or "$" in dst:
        raise MongoError(2, "$rename needs plain field paths")
    parts = src.split(".")
    c = parent_of(doc, parts, False)
    if c is None or isinstance(c, list) or parts[-1] not in c:
        return
    value = c.pop(parts[-1])
    dparts = dst.split(".")
    cset(parent_of(doc, dparts, True), dparts[-1], value)


def upsert_doc(query, u, filters, db):
    """The document an upsert inserts: the query's equality fields, then the update."""
    seed = {}

    def collect(q):
        for k, v in q.items():
            if k == "$and":
                for sub in v:
                    collect(sub)
            elif k.startswith("$"):
                continue
            elif isinstance(v, dict) and any(x.startswith("$") for x in v):
                if "$eq" in v:
                    op_set(parent_of(seed, k.split("."), True), k.split(".")[-1], v["$eq"], k)
            else:
                op_set(parent_of(seed, k.split("."), True), k.split(".")[-1], v, k)
    collect(query)
    if is_replacement(u):  # a replacement keeps only the query's _id
        seed = {"_id": seed["_id"]} if "_id" in seed else {}
    doc = apply_update(seed, u, query, filters, True, db)
    return {"_id": doc["_id"] if "_id" in doc else ObjectId(),
            **{k: v for k, v in doc.items() if k != "_id"}}


def changed(old, new):
    return old != new or bson.encode(old) != bson.encode(new)  # encode tells 1 from 1.0


# ---------------------------------------------------------------- indexes and collections
def index_values(doc, path):
    """hkeys of every value a (multikey) index on `path` holds for `doc`."""
    out = []

    def walk(v, parts):
        if not parts:
            if isinstance(v, list):  # one key per element; an empty array is a key itself
                out.extend([hkey(x) for x in v] if v else [hkey([])])
            else:
                out.append(hkey(v))
        elif isinstance(v, dict):
            if parts[0] in v:
                walk(v[parts[0]], parts[1:])
        elif isinstance(v, list):
            if parts[0].isdigit() and int(parts[0]) < len(v):
                walk(v[int(parts[0])], parts[1:])
            for x in v:
                if isinstance(x, dict):
                    walk(x, parts)
    walk(doc, path.split("."))
    return out


class Index:
    def __init__(self, spec):
        self.spec, self.fields = spec, list(spec["key"])
        self.unique, self.sparse = bool(spec.get("unique")), bool(spec.get("sparse"))
        self.partial = spec.get("partialFilterExpression")
        self.entries = {}  # key tuple -> {id hkey: None}, insertion-ordered

    def keys(self, doc):
        if self.partial is not None and not matches(self.partial, doc):
            return set()
        values = [index_values(doc, f) for f in self.fields]
        if self.sparse and not any(values):
            return set()
        return set(itertools.product(*[v or [None] for v in values]))

    def add(self, keys, idk):
        for k in keys:
            self.entries.setdefault(k, {})[idk] = None

    def remove(self, keys, idk):
        for k in keys:
            owners = self.entries.get(k)
            if owners is not None:
                owners.pop(idk, None)
                if not owners:
                    del self.entries[k]

    def same_as(self, spec):
        def norm(s):
            return (list(s["key"].items()), bool(s.get("unique")), bool(s.get("sparse")),
                    s.get("partialFilterExpression"), s.get("expireAfterSeconds"))
        return norm(self.spec) == norm(spec)


class Collection:
    def __init__(self, client, db, name, options):
        self.mm = client[db][name]  # mongomock's collection: its store holds our documents
        self.mm._store.create()
        self.ns, self.options, self.indexes = f"{db}.{name}", options, {}

    @property
    def docs(self):  # id hkey -> document; stored documents are replaced, never mutated
        return self.mm._store._documents

    def dup_error(self, ix_name, fields, key):
        kv = dict(zip(fields, map(unhkey, key)))
        shown = ", ".join(f"{k}: {bson.json_util.dumps(v)}" for k, v in kv.items())
        return MongoError(11000, f"E11000 duplicate key error collection: {self.ns} index: "
                                 f"{ix_name} dup key: {{ {shown} }}",
                          keyPattern={f: 1 for f in fields}, keyValue=kv)

    def put(self, old, new):
        """Insert `new`, or replace `old` by it, keeping unique indexes unique."""
        idk = hkey(new["_id"])
        if old is None and idk in self.docs:
            raise self.dup_error("_id_", ["_id"], [idk])
        new_keys = [(ix, ix.keys(new)) for ix in self.indexes.values()]
        for ix, keys in new_keys:
            for k in keys if ix.unique else ():
                owners = ix.entries.get(k)
                if owners and (len(owners) > 1 or idk not in owners):
                    raise self.dup_error(ix.spec["name"], ix.fields, k)
        for ix, keys in new_keys:
            if old is not None:
                ix.remove(ix.keys(old), idk)
            ix.add(keys, idk)
        self.docs[idk] = new

    def delete(self, doc):
        idk = hkey(doc["_id"])
        for ix in self.indexes.values():
            ix.remove(ix.keys(doc), idk)
        del self.docs[idk]

    def candidates(self, flt):
        """Documents an equality on _id or on an index's fields narrows `flt` to, else None."""
        def plain(v):
            if isinstance(v, dict) and len(v) == 1 and "$eq" in v:
                v = v["$eq"]
            ok = v is not None and not isinstance(v, list) and not (
                isinstance(v, dict) and any(k.startswith("$") for k in v))
            return v if ok else MISSING

        docs = self.docs
        if "_id" in flt:
            v = flt["_id"]
            if isinstance(v, dict) and list(v) == ["$in"] and isinstance(v["$in"], list):
                keys = dict.fromkeys(hkey(x) for x in v["$in"])
                return [docs[k] for k in keys if k in docs]
            if plain(v) is not MISSING:
                d = docs.get(hkey(plain(v)))
                return [d] if d is not None else []
        for ix in self.indexes.values():
            if ix.partial is None and not ix.sparse and all(
                    plain(flt.get(f)) is not MISSING for f in ix.fields):
                key = tuple(hkey(plain(flt[f])) for f in ix.fields)
                return [docs[i] for i in ix.entries.get(key, ())]
        return None

    def select(self, flt, sort=None, skip=0, limit=0):
        found = self.candidates(flt)
        found = self.docs.values() if found is None else found
        it = (d for d in found if matches(flt, d)) if flt else iter(found)
        if sort:
            return sort_docs(list(it), sort)[skip:skip + limit if limit else None]
        return list(itertools.islice(it, skip, skip + limit if limit else None))


def select(coll, flt, sort=None, skip=0, limit=0):
    if coll is None or not coll.docs:
        matches(flt, {})  # a malformed filter fails even when there is nothing to match
        return []
    return coll.select(flt, sort, skip, limit)


def project(mm, doc, projection):
    if not projection:
        return doc
    try:
        return mm._copy_only_fields(doc, dict(projection), dict)
    except ValueError as e:
        raise MongoError(2, f"bad projection: {e}") from e


# ---------------------------------------------------------------- the server
class Server:
    def __init__(self):
        self.client = mongomock.MongoClient()
        self.dbs = {}       # db name -> {collection name -> Collection}
        self.cursors = {}   # cursor id -> [ns, documents, position, last used]
        self.conn_ids = itertools.count(1)
        self.request_ids = itertools.count(1)
        self.writers = set()

    # ---- collections
    def coll(self, db, name, create=False, options=None):
        if not isinstance(name, str) or not name or "$" in name or "\0" in name:
            raise MongoError(73, f"Invalid namespace specified '{db}.{name}'")
        colls = self.dbs.setdefault(db, {})
        if name not in colls and create:
            colls[name] = Collection(self.client, db, name, options or {})
        return colls.get(name)

    def drop(self, db, name):
        coll = self.dbs.get(db, {}).pop(name, None)
        if coll is not None:
            self.client[db].drop_collection(name)
        return coll

    # ---- cursors
    def batch(self, cur, size):
        """Encode up to `size` documents (None: as many as fit) from the cursor state."""
        _, docs, pos, _ = cur
        out, total = [], 0
        while pos < len(docs) and (size is None or len(out) < size):
            raw = RawBSONDocument(bson.encode(docs[pos], codec_options=CODEC))
            if out and total + len(raw.raw) > BATCH_BYTES:
                break
            out.append(raw)
            total += len(raw.raw)
            pos += 1
        cur[2], cur[3] = pos, time.monotonic()
        return out

    def open_cursor(self, ns, docs, batch_size=None, single_batch=False):
        if batch_size is None:
            batch_size = 101
        cur = [ns, docs, 0, 0]
        first = self.batch(cur, batch_size)
        cid = 0
        if cur[2] < len(docs) and not single_batch:
            self.expire_cursors()
            cid = random.randint(1, 2**62)
            self.cursors[cid] = cur
        return {"cursor": {"firstBatch": first, "id": Int64(cid), "ns": ns}}

    def expire_cursors(self):
        # Drivers kill cursors they abandon; this only bounds leaks from crashed clients.
        limit = time.monotonic() - 600
        for cid in [c for c, cur in self.cursors.items() if cur[3] < limit]:
            del self.cursors[cid]

    # ---- dispatch
    def run(self, cmd, conn_id):
        name = next(iter(cmd), "")
        try:
            handler = getattr(self, "cmd_" + name.lower(), None) if name in COMMANDS else None
            if handler is None:
                raise MongoError(59, f"no such command: '{name}'")
            if cmd.get("startTransaction") or cmd.get("autocommit") is False:
                raise MongoError(20, "Transaction numbers are only allowed on a replica set "
                                     "member or mongos (mongo-standin has no transactions)")
            for part in [cmd, *cmd.get("updates", ()), *cmd.get("deletes", ()),
                         *cmd.get("indexes", ())]:
                no_collation(part)
            db = cmd.get("$db", "test")
            reply = handler(cmd, db, conn_id)
            reply["ok"] = 1.0
            return reply
        except Exception as exc:  # never let a bad command take the connection down
            err = as_mongo_error(exc)
            log.warning("command %s failed: code %s: %s", name, err.code, err.msg)
            return {"ok": 0.0, "errmsg": err.msg, "code": err.code,
                    "codeName": CODE_NAMES.get(err.code, "UnknownError")}

    # ---- handshake and server info
    def cmd_hello(self, cmd, db, conn_id):
        return {"helloOk": True, "isWritablePrimary": True, "ismaster": True,
                "maxBsonObjectSize": MAX_BSON, "maxMessageSizeBytes": MAX_MESSAGE,
                "maxWriteBatchSize": 100_000, "localTime": datetime.datetime.now(
                    datetime.timezone.utc), "logicalSessionTimeoutMinutes": 30,
                "connectionId": conn_id, "minWireVersion": 0, "maxWireVersion": 21,
                "readOnly": False}

    cmd_ismaster = cmd_hello

    def cmd_ping(self, cmd, db, conn_id):
        return {}

    cmd_endsessions = cmd_ping

    def cmd_buildinfo(self, cmd, db, conn_id):
        return {"version": "7.0.0", "versionArray": [7, 0, 0, 0], "gitVersion": "mongo-standin",
                "bits": 64, "maxBsonObjectSize": MAX_BSON, "modules": [], "debug": False}

    def cmd_getparameter(self, cmd, db, conn_id):
        known = {"featureCompatibilityVersion": {"version": "7.0"},
                 "authenticationMechanisms": [], "maxBSONDepth": 100}
        if cmd["getParameter"] == "*":
            return dict(known)
        return {k: v for k, v in known.items() if k in cmd}

    # ---- databases and collections
    def cmd_listdatabases(self, cmd, db, conn_id):
        dbs = [{"name": name, "sizeOnDisk": Int64(4096 * len(colls)), "empty": False}
               for name, colls in self.dbs.items() if colls]
        flt = want(cmd, "filter", dict) or {}
        dbs = [d for d in dbs if matches(flt, d)]
        if cmd.get("nameOnly"):
            dbs = [{"name": d["name"]} for d in dbs]
        return {"databases": dbs, "totalSize": Int64(sum(d.get("sizeOnDisk", 0) for d in dbs))}

    def cmd_listcollections(self, cmd, db, conn_id):
        infos = [{"name": name, "type": "collection", "options": c.options,
                  "info": {"readOnly": False},
                  "idIndex": {"v": 2, "key": {"_id": 1}, "name": "_id_"}}
                 for name, c in self.dbs.get(db, {}).items()]
        flt = want(cmd, "filter", dict) or {}
        infos = [i for i in infos if matches(flt, i)]
        if cmd.get("nameOnly"):
            infos = [{"name": i["name"], "type": i["type"]} for i in infos]
        batch_size = (want(cmd, "cursor", dict) or {}).get("batchSize")
        return self.open_cursor(f"{db}.$cmd.listCollections", infos, batch_size)

    def cmd_create(self, cmd, db, conn_id):
        options = {k: v for k, v in cmd.items() if k != "create" and k not in GENERIC_FIELDS}
        if "viewOn" in options:
            raise MongoError(115, "views are not supported by mongo-standin")
        existing = self.coll(db, cmd["create"])
        if existing is not None:
            if existing.options != options:  # MongoDB 7: identical options are a no-op
                raise MongoError(48, f"Collection {existing.ns} already exists.")
            return {}
        self.coll(db, cmd["create"], create=True, options=options)
        return {}

    def cmd_drop(self, cmd, db, conn_id):
        coll = self.drop(db, cmd["drop"])
        # MongoDB < 7 answers NamespaceNotFound for a missing collection; drivers accept both.
        return {"ns": f"{db}.{cmd['drop']}", "nIndexesWas": 1 + len(coll.indexes)} if coll else {}

    def cmd_dropdatabase(self, cmd, db, conn_id):
        for name in list(self.dbs.get(db, {})):
            self.drop(db, name)
        self.dbs.pop(db, None)
        return {"dropped": db}

    # ---- indexes
    def cmd_createindexes(self, cmd, db, conn_id):
        specs = want(cmd, "indexes", list)
        if not specs:
            raise MongoError(2, "Must specify at least one index to create")
        created = self.coll(db, cmd["createIndexes"]) is None
        coll = self.coll(db, cmd["createIndexes"], create=True)
        before = 1 + len(coll.indexes)
        for spec in specs:
            key = spec.get("key")
            if not isinstance(key, dict) or not key:
                raise MongoError(2, f"Index spec needs a non-empty 'key' document: {spec}")
            name = spec.get("name") or "_".join(f"{k}_{v}" for k, v in key.items())
            spec = {"v": 2, "key": key, "name": name,
                    **{k: v for k, v in spec.items() if k not in ("v", "key", "name", "ns")}}
            if name == "_id_" or list(key) == ["_id"]:
                continue
            clash = next((ix for ix in coll.indexes.values()
                          if ix.spec["name"] == name or list(ix.spec["key"].items()) ==
                          list(key.items())), None)
            if clash is not None:
                if clash.same_as(spec) and clash.spec["name"] == name:
                    continue
                if clash.spec["name"] == name:
                    raise MongoError(86, f"An existing index has the same name as the requested "
                                         f"index but a different key or options: {name}")
                raise MongoError(85, "Index already exists with a different name: "
                                     f"{clash.spec['name']}")
            ix = Index(spec)
            for idk, doc in coll.docs.items():
                keys = ix.keys(doc)
                for k in keys if ix.unique else ():
                    if k in ix.entries:
                        raise coll.dup_error(name, ix.fields, k)
                ix.add(keys, idk)
            coll.indexes[name] = ix
        return {"createdCollectionAutomatically": created, "numIndexesBefore": before,
                "numIndexesAfter": 1 + len(coll.indexes)}

    def existing(self, db, name):
        coll = self.coll(db, name)
        if coll is None:
            raise MongoError(26, f"ns does not exist: {db}.{name}")
        return coll

    def cmd_listindexes(self, cmd, db, conn_id):
        coll = self.existing(db, cmd["listIndexes"])
        specs = [{"v": 2, "key": {"_id": 1}, "name": "_id_"}]
        specs += [ix.spec for ix in coll.indexes.values()]
        batch_size = (want(cmd, "cursor", dict) or {}).get("batchSize")
        return self.open_cursor(coll.ns, specs, batch_size)

    def cmd_dropindexes(self, cmd, db, conn_id):
        coll = self.existing(db, cmd["dropIndexes"])
        was, which = 1 + len(coll.indexes), cmd.get("index")
        if which == "*":
            names = list(coll.indexes)
        elif isinstance(which, dict):
            names = [n for n, ix in coll.indexes.items()
                     if list(ix.spec["key"].items()) == list(which.items())]
            if not names:
                raise MongoError(27, f"can't find index with key: {which}")
        else:
            names = which if isinstance(which, list) else [which]
        for name in names:
            if name == "_id_":
                raise MongoError(72, "cannot drop _id index")
            if name not in coll.indexes:
                raise MongoError(27, f"index not found with name [{name}]")
        for name in names:
            del coll.indexes[name]
        return {"nIndexesWas": was}

    # ---- writes
    def write_loop(self, cmd, field, one):
        """Run `one(statement)` for each statement, collecting writeErrors like mongod."""
        stmts = want(cmd, field, list, [])
        ordered, errors = cmd.get("ordered", True), []
        for i, stmt in enumerate(stmts):
            try:
                one(i, stmt)
            except Exception as exc:
                err = as_mongo_error(exc)
                errors.append({"index": i, "code": err.code, "errmsg": err.msg, **err.extra})
                if ordered:
                    break
        return {"writeErrors": errors} if errors else {}

    def cmd_insert(self, cmd, db, conn_id):
        coll, n = self.coll(db, cmd["insert"], create=True), 0

        def one(i, doc):
            nonlocal n
            if not isinstance(doc, dict):
                raise MongoError(14, "documents must be objects")
            if isinstance(doc.get("_id"), list):
                raise MongoError(2, "The '_id' value cannot be of type array")
            # mongod stores _id as the first field
            doc = {"_id": doc["_id"] if "_id" in doc else ObjectId(), **doc}
            coll.put(None, doc)
            n += 1
        reply = self.write_loop(cmd, "documents", one)
        return {"n": n, **reply}

    def cmd_update(self, cmd, db, conn_id):
        name, mmdb = cmd["update"], self.client[db]
        totals = {"n": 0, "nModified": 0}
        upserted = []

        def one(i, st):
            q, u = want(st, "q", dict, {}), st.get("u")
            multi, filters = st.get("multi", False), parse_array_filters(st.get("arrayFilters"))
            validate_update(u, filters)
            if multi and is_replacement(u):
                raise MongoError(9, "multi update is not supported for replacement-style update")
            coll = self.coll(db, name)
            docs = select(coll, q, limit=0 if multi else 1)
            for old in docs:
                new = apply_update(old, u, q, filters, False, mmdb)
                totals["n"] += 1
                if changed(old, new):
                    coll.put(old, new)
                    totals["nModified"] += 1
            if not docs and st.get("upsert"):
                new = upsert_doc(q, u, filters, mmdb)
                self.coll(db, name, create=True).put(None, new)
                totals["n"] += 1
                upserted.append({"index": i, "_id": new["_id"]})
        reply = self.write_loop(cmd, "updates", one)
        return {**totals, **({"upserted": upserted} if upserted else {}), **reply}

    def cmd_delete(self, cmd, db, conn_id):
        coll, n = self.coll(db, cmd["delete"]), 0

        def one(i, st):
            nonlocal n
            if st.get("limit", 0) not in (0, 1):
                raise MongoError(9, "The limit field in delete objects must be 0 or 1")
            for doc in select(coll, want(st, "q", dict, {}), limit=st.get("limit", 0)):
                coll.delete(doc)
                n += 1
        reply = self.write_loop(cmd, "deletes", one)
        return {"n": n, **reply}

    def cmd_findandmodify(self, cmd, db, conn_id):
        name = cmd.get("findAndModify", cmd.get("findandmodify"))
        q, sort = want(cmd, "query", dict) or {}, want(cmd, "sort", dict)
        u, remove, fields = cmd.get("update"), cmd.get("remove", False), cmd.get("fields")
        if remove and u is not None:
            raise MongoError(9, "Cannot specify both an update and remove=true")
        if not remove and u is None:
            raise MongoError(9, "Either an update or remove=true must be specified")
        if remove and cmd.get("new"):
            raise MongoError(9, "Cannot specify both new=true and remove=true")
        filters = parse_array_filters(cmd.get("arrayFilters"))
        if u is not None:
            validate_update(u, filters)
        coll, mmdb = self.coll(db, name), self.client[db]
        docs = select(coll, q, sort, limit=1)
        if remove:
            if docs:
                coll.delete(docs[0])
            value, leo = (docs[0] if docs else None), {"n": len(docs)}
        else:
            if docs:
                new = apply_update(docs[0], u, q, filters, False, mmdb)
                if changed(docs[0], new):
                    coll.put(docs[0], new)
                value = new if cmd.get("new") else docs[0]
                leo = {"n": 1, "updatedExisting": True}
            elif cmd.get("upsert"):
                new = upsert_doc(q, u, filters, mmdb)
                self.coll(db, name, create=True).put(None, new)
                value = new if cmd.get("new") else None
                leo = {"n": 1, "updatedExisting": False, "upserted": new["_id"]}
            else:
                value, leo = None, {"n": 0, "updatedExisting": False}
        if value is not None and fields:
            value = project(self.coll(db, name).mm, value, fields)
        return {"lastErrorObject": leo, "value": value}

    # ---- reads
    def cmd_find(self, cmd, db, conn_id):
        coll = self.coll(db, cmd["find"])
        limit, single = want(cmd, "limit", int, 0), cmd.get("singleBatch", False)
        if limit < 0:  # legacy: a negative limit means "one batch of that many"
            limit, single = -limit, True
        docs = select(coll, want(cmd, "filter", dict) or {}, want(cmd, "sort", dict),
                      want(cmd, "skip", int, 0), limit)
        projection = want(cmd, "projection", dict)
        if projection:
            docs = [project(coll.mm, d, projection) for d in docs]
        return self.open_cursor(f"{db}.{cmd['find']}", docs, cmd.get("batchSize"), single)

    def cmd_getmore(self, cmd, db, conn_id):
        cid = cmd["getMore"]
        cur = self.cursors.get(cid)
        if cur is None:
            raise MongoError(43, f"cursor id {cid} not found")
        batch = self.batch(cur, cmd.get("batchSize") or None)
        if cur[2] >= len(cur[1]):
            del self.cursors[cid]
            cid = 0
        return {"cursor": {"nextBatch": batch, "id": Int64(cid), "ns": cur[0]}}

    def cmd_killcursors(self, cmd, db, conn_id):
        ids = want(cmd, "cursors", list, [])
        killed = [Int64(c) for c in ids if self.cursors.pop(c, None) is not None]
        return {"cursorsKilled": killed, "cursorsNotFound": [Int64(c) for c in ids
                                                             if c not in killed],
                "cursorsAlive": [], "cursorsUnknown": []}

    def cmd_count(self, cmd, db, conn_id):
        coll = self.coll(db, cmd["count"])
        q, skip, limit = want(cmd, "query", dict) or {}, cmd.get("skip", 0), abs(cmd.get("limit", 0))
        n = len(coll.docs) if coll and not q else len(select(coll, q))
        n = max(0, n - skip)
        return {"n": min(n, limit) if limit else n}

    def cmd_distinct(self, cmd, db, conn_id):
        coll, key = self.coll(db, cmd["distinct"]), want(cmd, "key", str)
        seen, values = set(), []
        for doc in select(coll, want(cmd, "query", dict) or {}):
            for v in filtering.iter_key_candidates(key, doc):
                for x in v if isinstance(v, list) else [v]:
                    if x is not filtering.NOTHING and hkey(x) not in seen:
                        seen.add(hkey(x))
                        values.append(x)
        return {"values": values}

    def cmd_aggregate(self, cmd, db, conn_id):
        name, pipeline = cmd["aggregate"], want(cmd, "pipeline", list)
        if pipeline is None or not isinstance(name, str):
            raise MongoError(115, "only collection aggregations with a pipeline are supported")
        if any(k in ("$out", "$merge") for stage in pipeline for k in stage):
            raise MongoError(115, "$out and $merge are not supported by mongo-standin")
        if cmd.get("explain"):
            raise MongoError(115, "explain is not supported by mongo-standin")
        coll = self.coll(db, name)
        if coll is not None and pipeline and "$match" in pipeline[0]:
            docs, pipeline = coll.select(pipeline[0]["$match"]), pipeline[1:]  # use the indexes
        else:
            docs = list(coll.docs.values()) if coll else []
        # mongomock's stages may modify their input in place
        out = list(mm_aggregate.process_pipeline(copy.deepcopy(docs), self.client[db],
                                                 pipeline, None))
        batch_size = (want(cmd, "cursor", dict) or {}).get("batchSize")
        return self.open_cursor(f"{db}.{name}", out, batch_size)

    # ---- wire protocol
    async def handle(self, reader, writer):
        conn_id = next(self.conn_ids)
        self.writers.add(writer)
        try:
            while True:
                length, request_id, _, opcode = HEADER.unpack(await reader.readexactly(16))
                if not 16 < length <= MAX_MESSAGE + 1024:
                    log.warning("connection %d: bad message length %d", conn_id, length)
                    break
                body = await reader.readexactly(length - 16)
                try:
                    reply = self.dispatch(opcode, body, request_id, conn_id)
                except Exception as exc:  # unparseable: the stream can't be trusted any more
                    log.warning("connection %d: %s; closing it", conn_id, exc)
                    break
                if reply:
                    writer.write(reply)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()

    def dispatch(self, opcode, body, request_id, conn_id):
        if opcode == OP_MSG:
            flags = int.from_bytes(body[:4], "little")
            try:
                cmd = parse_op_msg(body, flags)
            except Exception as exc:
                log.warning("connection %d: malformed OP_MSG: %s", conn_id, exc)
                cmd = None
            reply = self.run(cmd, conn_id) if cmd is not None else {
                "ok": 0.0, "errmsg": "malformed OP_MSG", "code": 9, "codeName": "FailedToParse"}
            if flags & MORE_TO_COME:  # the client asked for no reply
                return None
            payload = b"\0\0\0\0\0" + bson.encode(reply, codec_options=CODEC)
        elif opcode == OP_QUERY:
            # Only the legacy handshake comes this way: isMaster on admin.$cmd.
            end = body.index(b"\0", 4)
            db = body[4:end].decode().split(".")[0]
            start = end + 9
            size = int.from_bytes(body[start:start + 4], "little")
            query = bson.decode(body[start:start + size], CODEC)
            query = query.get("$query", query)
            if next(iter(query), "").lower() in ("ismaster", "hello"):
                reply = self.run({**query, "$db": db}, conn_id)
            else:
                reply = {"ok": 0.0, "errmsg": "OP_QUERY is only supported for the handshake",
                         "code": 2, "codeName": "BadValue"}
            payload = struct.pack("<iqii", 0, 0, 0, 1) + bson.encode(reply, codec_options=CODEC)
            opcode = OP_REPLY
        else:
            raise MongoError(2, f"unsupported opcode {opcode}")
        return HEADER.pack(16 + len(payload), next(self.request_ids), request_id,
                           opcode) + payload


def parse_op_msg(body, flags):
    end = len(body) - (4 if flags & CHECKSUM_PRESENT else 0)
    pos, cmd, sequences = 4, None, {}
    while pos < end:
        kind = body[pos]
        size = int.from_bytes(body[pos + 1:pos + 5], "little")
        if kind == 0:
            cmd = bson.decode(body[pos + 1:pos + 1 + size], CODEC)
        elif kind == 1:  # a document sequence, e.g. insert's `documents`
            nul = body.index(b"\0", pos + 5)
            ident = body[pos + 5:nul].decode()
            docs = bson.decode_all(body[nul + 1:pos + 1 + size], CODEC)
            sequences.setdefault(ident, []).extend(docs)
        else:
            raise ValueError(f"unknown section kind {kind}")
        pos += 1 + size
    if cmd is None:
        raise ValueError("no body section")
    cmd.update(sequences)
    return cmd


COMMANDS = {"hello", "isMaster", "ismaster", "ping", "buildInfo", "buildinfo", "getParameter",
            "endSessions", "killCursors", "listDatabases", "listCollections", "create", "drop",
            "dropDatabase", "createIndexes", "listIndexes", "dropIndexes", "insert", "update",
            "delete", "find", "getMore", "findAndModify", "findandmodify", "aggregate",
            "count", "distinct"}


async def main(host, port):
    server = Server()
    listener = await asyncio.start_server(server.handle, host, port)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    port = listener.sockets[0].getsockname()[1]
    print(f"mongo-standin listening on {host}:{port}", flush=True)
    await stop.wait()
    listener.close()
    for writer in list(server.writers):
        writer.close()
    await asyncio.sleep(0)
    log.info("mongo-standin stopped")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=27017)
    args = parser.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(main(args.host, args.port))
