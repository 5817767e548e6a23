"""Black-box tests of the mongo-standin server with pymongo.

Run from the repository root with the stand-in's venv:
    python -m unittest dev/mongo-standin/test_server.py
Each test class starts the server on a free port in a subprocess.
"""
import datetime
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import unittest
import uuid

import bson
from bson import Binary, Decimal128, Int64, ObjectId
from bson.codec_options import CodecOptions
from pymongo import ASCENDING, DESCENDING, MongoClient, ReturnDocument, UpdateOne, InsertOne
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure
from pymongo.write_concern import WriteConcern

SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "server.py")


def start_server():
    # stderr goes to a file: an unread pipe would block the server once it fills up
    log = tempfile.NamedTemporaryFile("w+", prefix="mongo-standin-", suffix=".log")
    proc = subprocess.Popen([sys.executable, SERVER, "--host", "127.0.0.1", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=log, text=True)
    proc.log = log
    line = proc.stdout.readline()
    if not line.startswith("mongo-standin listening on "):
        proc.kill()
        log.seek(0)
        raise RuntimeError(f"server did not start: {line!r} {log.read()}")
    return proc, int(line.rsplit(":", 1)[1])


def stop_server(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.log.seek(0)
        log = proc.log.read()
        proc.log.close()
    return code, log


class RawConnection:
    """Just enough of the wire protocol to send hand-made messages."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.request_id = 0

    def close(self):
        self.sock.close()

    def send(self, opcode, payload):
        self.request_id += 1
        self.sock.sendall(struct.pack("<iiii", 16 + len(payload), self.request_id, 0, opcode)
                          + payload)

    def recv(self):
        header = self._read(16)
        length, _, response_to, opcode = struct.unpack("<iiii", header)
        assert response_to == self.request_id
        return opcode, self._read(length - 16)

    def _read(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def msg(self, body, sequences=(), flags=0, checksum=False, reply=True):
        payload = struct.pack("<I", flags | (1 if checksum else 0)) + b"\0" + bson.encode(body)
        for ident, docs in sequences:
            seq = ident.encode() + b"\0" + b"".join(bson.encode(d) for d in docs)
            payload += b"\1" + struct.pack("<i", 4 + len(seq)) + seq
        if checksum:
            payload += b"\0\0\0\0"  # the server must skip it (it does not verify it)
        self.send(2013, payload)
        if not reply:
            return None
        opcode, data = self.recv()
        assert opcode == 2013 and data[4] == 0
        return bson.decode(data[5:])


class StandinTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proc, cls.port = start_server()
        cls.client = MongoClient("127.0.0.1", cls.port, serverSelectionTimeoutMS=5000)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        code, log = stop_server(cls.proc)
        # expected command failures are one-line warnings; a traceback is a stand-in bug
        assert "Traceback" not in log, log
        assert code == 0, code

    def setUp(self):
        self.db = self.client["db_" + self._testMethodName[:50]]
        self.client.drop_database(self.db.name)
        self.c = self.db.things

    def new_client(self, **kwargs):
        client = MongoClient("127.0.0.1", self.port, serverSelectionTimeoutMS=5000, **kwargs)
        self.addCleanup(client.close)
        return client

    def assertCode(self, code, fn, *args, **kwargs):
        with self.assertRaises(OperationFailure) as ctx:
            fn(*args, **kwargs)
        self.assertEqual(ctx.exception.code, code, ctx.exception.details)
        return ctx.exception


class ProtocolTest(StandinTest):
    def test_hello_fields(self):
        hello = self.client.admin.command("hello")
        self.assertTrue(hello["isWritablePrimary"] and hello["ismaster"] and hello["helloOk"])
        self.assertEqual((hello["minWireVersion"], hello["maxWireVersion"]), (0, 21))
        self.assertEqual(hello["logicalSessionTimeoutMinutes"], 30)
        for key in ("maxBsonObjectSize", "maxMessageSizeBytes", "maxWriteBatchSize",
                    "localTime", "connectionId"):
            self.assertIn(key, hello)
        self.assertNotIn("setName", hello)
        self.assertNotIn("compression", hello)
        self.assertEqual(self.client.admin.command("isMaster")["ismaster"], True)

    def test_legacy_op_query_handshake(self):
        raw = RawConnection(self.port)
        self.addCleanup(raw.close)
        query = bson.encode({"isMaster": 1, "helloOk": True, "compression": ["zstd"],
                             "client": {"driver": {"name": "test", "version": "0"}}})
        raw.send(2004, struct.pack("<i", 0) + b"admin.$cmd\0" + struct.pack("<ii", 0, -1) + query)
        opcode, data = raw.recv()
        self.assertEqual(opcode, 1)
        flags, cursor_id, start, count = struct.unpack("<iqii", data[:20])
        self.assertEqual((cursor_id, count), (0, 1))
        reply = bson.decode(data[20:])
        self.assertTrue(reply["ismaster"])
        self.assertNotIn("compression", reply)
        # the same connection then speaks OP_MSG
        self.assertEqual(raw.msg({"ping": 1, "$db": "admin"})["ok"], 1.0)

    def test_op_msg_document_sequences_and_checksum(self):
        raw = RawConnection(self.port)
        self.addCleanup(raw.close)
        db = self.db.name
        reply = raw.msg({"insert": "things", "$db": db},
                        [("documents", [{"_id": 1, "a": 1}, {"_id": 2, "a": 2}])], checksum=True)
        self.assertEqual(reply["n"], 2)
        reply = raw.msg({"update": "things", "$db": db},
                        [("updates", [{"q": {"_id": 1}, "u": {"$set": {"a": 10}}},
                                      {"q": {"_id": 3}, "u": {"$set": {"a": 3}}, "upsert": True}])])
        self.assertEqual((reply["n"], reply["nModified"]), (2, 1))
        self.assertEqual(reply["upserted"], [{"index": 1, "_id": 3}])
        reply = raw.msg({"delete": "things", "$db": db},
                        [("deletes", [{"q": {"_id": 2}, "limit": 1}])])
        self.assertEqual(reply["n"], 1)
        self.assertEqual(sorted(d["a"] for d in self.c.find()), [3, 10])

    def test_more_to_come_gets_no_reply(self):
        raw = RawConnection(self.port)
        self.addCleanup(raw.close)
        raw.msg({"insert": "things", "$db": self.db.name, "writeConcern": {"w": 0}},
                [("documents", [{"_id": "quiet"}])], flags=2, reply=False)
        # the next reply on the connection answers the ping, not the insert
        self.assertEqual(raw.msg({"ping": 1, "$db": "admin"}), {"ok": 1.0})
        self.assertEqual(self.c.find_one({"_id": "quiet"}), {"_id": "quiet"})
        unacknowledged = self.c.with_options(write_concern=WriteConcern(w=0))
        unacknowledged.insert_one({"_id": "w0"})
        self.assertEqual(self.c.find_one({"_id": "w0"}), {"_id": "w0"})

    def test_malformed_messages(self):
        raw = RawConnection(self.port)
        self.addCleanup(raw.close)
        raw.send(2013, struct.pack("<I", 0) + b"\0" + struct.pack("<i", 12) + b"garbage!")
        opcode, data = raw.recv()
        self.assertEqual(bson.decode(data[5:])["code"], 9)  # answered, connection kept
        self.assertEqual(raw.msg({"ping": 1, "$db": "admin"})["ok"], 1.0)
        raw.send(2012, b"\0" * 16)  # OP_COMPRESSED was never offered: the server hangs up
        with self.assertRaises(ConnectionError):
            raw.recv()
        self.assertEqual(self.client.admin.command("ping")["ok"], 1.0)

    def test_ignores_generic_fields(self):
        reply = self.db.command({"ping": 1, "comment": "x", "maxTimeMS": 5,
                                 "readConcern": {"level": "local"}, "apiVersion": "1",
                                 "$readPreference": {"mode": "primary"},
                                 "lsid": {"id": Binary(uuid.uuid4().bytes, 4)}})
        self.assertEqual(reply["ok"], 1.0)
        self.c.insert_one({"_id": 1})
        reply = self.db.command({"find": "things", "txnNumber": Int64(1),
                                 "writeConcern": {"w": 1}, "readConcern": {}})
        self.assertEqual(reply["cursor"]["firstBatch"], [{"_id": 1}])

    def test_errors_keep_the_connection(self):
        client = self.new_client(maxPoolSize=1)
        err = self.assertCode(59, client.admin.command, "noSuchCommand")
        self.assertEqual(err.details["codeName"], "CommandNotFound")
        self.assertCode(9, client[self.db.name].things.update_one, {}, {"$bogus": {"a": 1}})
        self.assertCode(2, client[self.db.name].command, "find", "things",
                        filter={"a": {"$notAnOperator": 1}})
        self.assertCode(115, client[self.db.name].things.find_one, {},
                        collation={"locale": "en", "strength": 2})
        self.assertEqual(client.admin.command("ping")["ok"], 1.0)

    def test_server_info_commands(self):
        self.assertEqual(self.client.server_info()["version"], "7.0.0")
        self.assertEqual(self.client.admin.command("getParameter", 1,
                                                   featureCompatibilityVersion=1)
                         ["featureCompatibilityVersion"]["version"], "7.0")
        self.assertEqual(self.client.admin.command("endSessions", [])["ok"], 1.0)
        with self.client.start_session() as session:
            self.c.insert_one({"_id": 1}, session=session)
            self.assertEqual(self.c.find_one({}, session=session), {"_id": 1})

    def test_transactions_are_refused(self):
        self.db.create_collection("things")
        raw = RawConnection(self.port)
        self.addCleanup(raw.close)
        reply = raw.msg({"insert": "things", "$db": self.db.name, "txnNumber": Int64(1),
                         "startTransaction": True, "autocommit": False,
                         "documents": [{"_id": 1}]})
        self.assertEqual((reply["ok"], reply["code"]), (0.0, 20))

    def test_many_concurrent_connections(self):
        clients = [self.new_client(maxPoolSize=2) for _ in range(8)]
        errors = []

        def work(i, client):
            try:
                coll = client[self.db.name].things
                for j in range(50):
                    coll.insert_one({"_id": f"{i}-{j}", "i": i})
                    coll.update_one({"_id": f"{i}-{j}"}, {"$inc": {"n": 1}})
                    assert coll.find_one({"_id": f"{i}-{j}"})["n"] == 1
            except Exception as exc:  # reported below
                errors.append(exc)
        threads = [threading.Thread(target=work, args=(i, c)) for i, c in enumerate(clients)]
        raws = [RawConnection(self.port) for _ in range(40)]  # idle connections held open
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for raw in raws:
            self.assertEqual(raw.msg({"ping": 1, "$db": "admin"})["ok"], 1.0)
            raw.close()
        self.assertEqual(errors, [])
        self.assertEqual(self.c.count_documents({}), 400)


class DatabaseCommandsTest(StandinTest):
    def test_list_create_drop(self):
        self.db.create_collection("a")
        self.db.b.insert_one({"x": 1})
        self.assertEqual(sorted(self.db.list_collection_names()), ["a", "b"])
        infos = list(self.db.list_collections(filter={"name": "b"}))
        self.assertEqual([(i["name"], i["type"]) for i in infos], [("b", "collection")])
        self.assertIn(self.db.name, self.client.list_database_names())
        self.assertIn(self.db.name, [d["name"] for d in self.client.list_databases()])
        # create is idempotent with identical options (MongoDB 7), else NamespaceExists
        self.assertEqual(self.db.command("create", "a")["ok"], 1.0)
        self.assertCode(48, self.db.command, "create", "a", capped=True, size=4096)
        self.db.drop_collection("a")
        self.assertEqual(self.db.command("drop", "never-existed")["ok"], 1.0)
        self.assertEqual(self.db.list_collection_names(), ["b"])
        self.client.drop_database(self.db.name)
        self.assertNotIn(self.db.name, self.client.list_database_names())
        self.assertEqual(self.db.b.find_one(), None)

    def test_collection_stays_after_last_delete(self):
        self.c.insert_one({"_id": 1})
        self.c.delete_one({"_id": 1})
        self.assertEqual(self.db.list_collection_names(), ["things"])


class IndexTest(StandinTest):
    def test_create_list_drop_indexes(self):
        self.assertEqual(self.c.create_index("email", unique=True), "email_1")
        self.assertEqual(self.c.create_index("email", unique=True), "email_1")  # same: ok
        self.c.create_index([("a", ASCENDING), ("b", DESCENDING)], name="ab")
        indexes = {ix["name"]: ix for ix in self.c.list_indexes()}
        self.assertEqual(set(indexes), {"_id_", "email_1", "ab"})
        self.assertTrue(indexes["email_1"]["unique"])
        self.assertEqual(list(indexes["ab"]["key"].items()), [("a", 1), ("b", -1)])
        self.assertCode(86, self.c.create_index, "other", name="email_1")
        self.assertCode(85, self.c.create_index, "email", name="another_name")
        self.c.drop_index("ab")
        self.assertCode(27, self.c.drop_index, "ab")
        self.c.drop_indexes()
        self.assertEqual([ix["name"] for ix in self.c.list_indexes()], ["_id_"])
        self.assertCode(26, self.db.command, "listIndexes", "missing")

    def test_unique_top_level(self):
        self.c.create_index("email", unique=True)
        self.c.insert_one({"_id": 1, "email": "a@x"})
        with self.assertRaises(DuplicateKeyError) as ctx:
            self.c.insert_one({"_id": 2, "email": "a@x"})
        self.assertEqual(ctx.exception.code, 11000)
        self.assertEqual(ctx.exception.details["keyValue"], {"email": "a@x"})
        self.c.insert_one({"_id": 2, "email": "b@x"})
        self.assertRaises(DuplicateKeyError, self.c.update_one, {"_id": 2},
                          {"$set": {"email": "a@x"}})
        self.assertRaises(DuplicateKeyError, self.c.update_one, {"_id": 3},
                          {"$set": {"email": "b@x"}}, upsert=True)
        self.assertRaises(DuplicateKeyError, self.c.replace_one, {"_id": 2}, {"email": "a@x"})
        self.assertRaises(DuplicateKeyError, self.c.find_one_and_update, {"_id": 2},
                          {"$set": {"email": "a@x"}})
        self.assertEqual(self.c.find_one({"_id": 2})["email"], "b@x")  # nothing changed
        self.assertIsNone(self.c.find_one({"_id": 3}))
        self.c.update_one({"_id": 1}, {"$set": {"email": "a@x", "n": 1}})  # own value: fine
        self.c.delete_one({"_id": 1})
        self.c.insert_one({"_id": 4, "email": "a@x"})  # freed by the delete

    def test_unique_dotted_path_into_array(self):
        self.c.create_index("orders.guid", unique=True)
        self.c.insert_one({"_id": 1, "orders": [{"guid": "g1"}, {"guid": "g2"}]})
        with self.assertRaises(DuplicateKeyError):
            self.c.insert_one({"_id": 2, "orders": [{"guid": "g3"}, {"guid": "g2"}]})
        self.c.insert_one({"_id": 2, "orders": [{"guid": "g3"}]})
        with self.assertRaises(DuplicateKeyError):
            self.c.update_one({"_id": 2}, {"$push": {"orders": {"guid": "g1"}}})
        # the same value twice inside one document is not a conflict
        self.c.update_one({"_id": 2}, {"$push": {"orders": {"guid": "g3"}}})
        self.assertEqual(self.c.find_one({"orders.guid": "g2"})["_id"], 1)

    def test_unique_index_on_existing_duplicates_fails(self):
        self.c.insert_many([{"k": 1}, {"k": 1}])
        self.assertCode(11000, self.c.create_index, "k", unique=True)
        self.assertEqual([ix["name"] for ix in self.c.list_indexes()], ["_id_"])

    def test_sparse_and_partial_unique(self):
        self.c.create_index("s", unique=True, sparse=True)
        self.c.create_index("p", unique=True, partialFilterExpression={"p": {"$exists": True}})
        self.c.insert_many([{"_id": 1}, {"_id": 2}])  # both lack s and p: allowed
        self.c.insert_one({"_id": 3, "s": 1, "p": 1})
        self.assertRaises(DuplicateKeyError, self.c.insert_one, {"s": 1})
        self.assertRaises(DuplicateKeyError, self.c.insert_one, {"p": 1})

    def test_missing_field_counts_as_null_for_unique(self):
        self.c.create_index("u", unique=True)
        self.c.insert_one({"_id": 1})
        self.assertRaises(DuplicateKeyError, self.c.insert_one, {"_id": 2})

    def test_equality_lookup_through_index(self):
        self.c.create_index("k")
        self.c.insert_many([{"_id": i, "k": i % 10, "tags": [i]} for i in range(100)])
        self.assertEqual(self.c.count_documents({"k": 3}), 10)
        self.assertEqual(self.c.count_documents({"k": 3, "tags": {"$gte": 50}}), 5)
        self.c.update_many({"k": 3}, {"$set": {"k": 30}})
        self.assertEqual(self.c.count_documents({"k": 3}), 0)
        self.assertEqual(self.c.count_documents({"k": 30}), 10)
        self.c.delete_many({"k": 30})
        self.assertEqual(self.c.count_documents({}), 90)


class WriteTest(StandinTest):
    def test_insert_write_errors(self):
        self.c.insert_one({"_id": 1})
        with self.assertRaises(BulkWriteError) as ctx:
            self.c.insert_many([{"_id": 2}, {"_id": 1}, {"_id": 3}])
        details = ctx.exception.details
        self.assertEqual(details["nInserted"], 1)
        [error] = details["writeErrors"]
        self.assertEqual((error["index"], error["code"]), (1, 11000))
        self.assertIn("E11000", error["errmsg"])
        with self.assertRaises(BulkWriteError) as ctx:
            self.c.insert_many([{"_id": 4}, {"_id": 1}, {"_id": 5}, {"_id": 2}], ordered=False)
        self.assertEqual([e["index"] for e in ctx.exception.details["writeErrors"]], [1, 3])
        self.assertEqual(sorted(d["_id"] for d in self.c.find()), [1, 2, 4, 5])

    def test_insert_puts_id_first_and_keeps_order(self):
        self.c.insert_one({"z": 1, "a": 2, "_id": "x", "m": {"y": 1, "b": 2}})
        raw = self.c.with_options(codec_options=CodecOptions(document_class=bson.SON))
        self.assertEqual(list(raw.find_one().items()),
                         [("_id", "x"), ("z", 1), ("a", 2), ("m", {"y": 1, "b": 2})])
        doc = self.c.find_one({"_id": "x"})
        self.assertEqual(list(doc["m"]), ["y", "b"])
        generated = self.c.insert_one({"q": 1}).inserted_id
        self.assertIsInstance(generated, ObjectId)
        self.assertEqual(list(self.c.find_one({"q": 1})), ["_id", "q"])

    def test_update_reply_counts(self):
        self.c.insert_many([{"_id": i, "v": 0} for i in range(3)])
        r = self.c.update_many({}, {"$set": {"v": 1}})
        self.assertEqual((r.matched_count, r.modified_count), (3, 3))
        r = self.c.update_many({}, {"$set": {"v": 1}})
        self.assertEqual((r.matched_count, r.modified_count), (3, 0))
        r = self.c.update_one({"_id": 9}, {"$set": {"v": 9}}, upsert=True)
        self.assertEqual((r.matched_count, r.modified_count, r.upserted_id), (0, 0, 9))
        res = self.c.bulk_write([UpdateOne({"_id": 0}, {"$inc": {"v": 1}}),
                                 UpdateOne({"_id": "new"}, {"$set": {"v": 1}}, upsert=True),
                                 InsertOne({"_id": 20})])
        self.assertEqual(res.upserted_ids, {1: "new"})
        self.assertEqual((res.matched_count, res.modified_count, res.inserted_count), (1, 1, 1))

    def test_set_unset_inc_types(self):
        self.c.insert_one({"_id": 1, "i": 1, "l": Int64(1), "d": 1.5, "big": 2**31 - 1,
                           "dec": Decimal128("1.1"), "gone": 1, "nested": {"keep": 1}})
        self.c.update_one({"_id": 1}, {"$inc": {"i": 1, "l": 1, "d": 1, "big": 1,
                                                "dec": Decimal128("0.1"), "new": 5},
                                       "$unset": {"gone": ""},
                                       "$set": {"nested.added": [1, 2], "a.b.c": True}})
        doc = self.c.find_one()
        self.assertEqual(type(doc["i"]), int)
        self.assertEqual(doc["i"], 2)
        self.assertIsInstance(doc["l"], Int64)
        self.assertEqual(doc["d"], 2.5)
        self.assertIsInstance(doc["big"], Int64)  # int32 overflow promotes to int64
        self.assertEqual(doc["dec"], Decimal128("1.2"))
        self.assertEqual(doc["new"], 5)
        self.assertNotIn("gone", doc)
        self.assertEqual(doc["nested"], {"keep": 1, "added": [1, 2]})
        self.assertEqual(doc["a"], {"b": {"c": True}})
        self.c.update_one({"_id": 1}, {"$set": {"z": 1, "y": 1}, "$inc": {"x": 1}})
        self.assertEqual(list(self.c.find_one())[-3:], ["x", "y", "z"])  # MongoDB 5+ order
        self.assertCode(14, self.c.update_one, {"_id": 1}, {"$inc": {"nested": 1}})
        self.assertCode(66, self.c.update_one, {"_id": 1}, {"$set": {"_id": 2}})
        self.assertCode(40, self.c.update_one, {"_id": 1}, {"$set": {"a": 1}, "$inc": {"a.b": 1}})
        self.c.update_one({"_id": 1}, {"$min": {"i": 0}, "$max": {"d": 10}, "$mul": {"l": 3},
                                       "$rename": {"new": "renamed"}})
        doc = self.c.find_one()
        self.assertEqual((doc["i"], doc["d"], doc["l"], doc["renamed"]), (0, 10, 6, 5))

    def test_push_modifiers(self):
        self.c.insert_one({"_id": 1, "a": [5, 1]})
        self.c.update_one({"_id": 1}, {"$push": {"a": {"$each": [3, 9, 7], "$sort": 1,
                                                       "$slice": -3}}})
        self.assertEqual(self.c.find_one()["a"], [5, 7, 9])
        self.c.update_one({"_id": 1}, {"$push": {"a": 0, "events": {"t": 2}}})
        self.c.update_one({"_id": 1}, {"$push": {"events": {"$each": [{"t": 3}, {"t": 1}],
                                                            "$sort": {"t": -1}, "$slice": 2}}})
        doc = self.c.find_one()
        self.assertEqual(doc["a"], [5, 7, 9, 0])
        self.assertEqual(doc["events"], [{"t": 3}, {"t": 2}])
        self.c.update_one({"_id": 1}, {"$push": {"a": {"$each": [-1], "$position": 0}}})
        self.assertEqual(self.c.find_one()["a"], [-1, 5, 7, 9, 0])
        self.assertCode(2, self.c.update_one, {"_id": 1}, {"$push": {"_id": 1}})

    def test_add_to_set(self):
        self.c.insert_one({"_id": 1, "tags": ["a"], "orders": [{"guid": "g", "ev": ["x"]}]})
        self.c.update_one({"_id": 1}, {"$addToSet": {"tags": {"$each": ["a", "b", "b"]}}})
        self.c.update_one({"_id": 1}, {"$addToSet": {"tags": "c", "orders.0.ev": "x"}})
        self.c.update_one({"_id": 1}, {"$addToSet": {"orders.0.ev": "y",
                                                     "orders.2.ev": "z"}})
        doc = self.c.find_one()
        self.assertEqual(doc["tags"], ["a", "b", "c"])
        self.assertEqual(doc["orders"], [{"guid": "g", "ev": ["x", "y"]}, None, {"ev": ["z"]}])
        self.c.update_one({"orders.guid": "g"}, {"$addToSet": {"orders.$.ev": "w"}})
        self.assertEqual(self.c.find_one()["orders"][0]["ev"], ["x", "y", "w"])

    def test_pull(self):
        self.c.insert_one({"_id": 1, "outbox": [{"eventId": "x", "n": 1}, {"eventId": "y"}],
                           "nums": [1, 5, 7, 5], "tags": ["a", "b"]})
        self.c.update_one({"_id": 1}, {"$pull": {"outbox": {"eventId": "x"},
                                                 "nums": {"$gte": 6}, "tags": "a"}})
        doc = self.c.find_one()
        self.assertEqual(doc["outbox"], [{"eventId": "y"}])
        self.assertEqual((doc["nums"], doc["tags"]), ([1, 5, 5], ["b"]))
        self.c.update_one({"_id": 1}, {"$pull": {"nums": 5, "missing": 1},
                                       "$pullAll": {"tags": ["b"]}, "$pop": {"outbox": 1}})
        doc = self.c.find_one()
        self.assertEqual((doc["nums"], doc["tags"], doc["outbox"]), ([1], [], []))
        self.assertNotIn("missing", doc)

    def test_pull_by_a_field_in_a_list_of_strings(self):
        self.c.insert_one({"_id": 1, "outbox": [{"_id": "a"}, {"_id": "b"}, {"_id": ["c"]},
                                                {"_id": "d"}, "c", {"other": "a"}]})
        self.c.update_one({"_id": 1}, {"$pull": {"outbox": {"_id": {"$in": ["a", "c", "z"]}}}})
        self.assertEqual(self.c.find_one()["outbox"],
                         [{"_id": "b"}, {"_id": "d"}, "c", {"other": "a"}])

    def test_set_on_insert_and_upsert_document(self):
        self.c.update_one({"_id": "k", "kind": "a", "gone": {"$exists": False}},
                          {"$setOnInsert": {"created": 1}, "$inc": {"hits": 1}}, upsert=True)
        self.assertEqual(self.c.find_one({"_id": "k"}),
                         {"_id": "k", "kind": "a", "created": 1, "hits": 1})
        self.c.update_one({"_id": "k", "gone": {"$exists": False}},
                          {"$setOnInsert": {"created": 2}, "$inc": {"hits": 1}}, upsert=True)
        self.assertEqual(self.c.find_one({"_id": "k"})["created"], 1)
        self.assertEqual(self.c.find_one({"_id": "k"})["hits"], 2)
        r = self.c.update_one({"owner.id": 7}, {"$set": {"x": 1}}, upsert=True)
        self.assertIsInstance(r.upserted_id, ObjectId)
        self.assertEqual(self.c.find_one({"_id": r.upserted_id}),
                         {"_id": r.upserted_id, "owner": {"id": 7}, "x": 1})
        r = self.c.replace_one({"_id": "rep"}, {"v": 1}, upsert=True)
        self.assertEqual(self.c.find_one({"_id": "rep"}), {"_id": "rep", "v": 1})

    def test_positional_update(self):
        self.c.insert_one({"_id": 1, "orders": [
            {"guid": "A", "orderStatusEvents": []}, {"guid": "B", "orderStatusEvents": []}]})
        events = [{"status": "PAID", "at": datetime.datetime(2024, 1, 1)}]
        r = self.c.update_one({"_id": 1, "orders.guid": "B"},
                              {"$set": {"orders.$.orderStatusEvents": events}})
        self.assertEqual(r.modified_count, 1)
        self.c.update_one({"orders": {"$elemMatch": {"guid": "A"}}},
                          {"$push": {"orders.$.orderStatusEvents": {"status": "NEW"}}})
        orders = self.c.find_one()["orders"]
        self.assertEqual(orders[1]["orderStatusEvents"], events)
        self.assertEqual(orders[0]["orderStatusEvents"], [{"status": "NEW"}])
        self.c.update_one({"_id": 1}, {"$set": {"orders.1.orderStatusEvents": []}})
        self.assertEqual(self.c.find_one()["orders"][1]["orderStatusEvents"], [])
        self.assertCode(2, self.c.update_one, {"_id": 1}, {"$set": {"orders.$.x": 1}})
        self.c.insert_one({"_id": 2, "scores": [1, 5, 9]})
        self.c.update_one({"_id": 2, "scores": {"$gte": 5}}, {"$set": {"scores.$": 50}})
        self.assertEqual(self.c.find_one({"_id": 2})["scores"], [1, 50, 9])

    def test_array_filters(self):
        self.c.insert_one({"_id": 1, "orders": [
            {"guid": "A", "status": "open", "items": [{"q": 1}, {"q": 5}]},
            {"guid": "B", "status": "open", "items": [{"q": 7}]},
            {"guid": "C", "status": "done", "items": []}]})
        self.c.update_one({"_id": 1}, {"$set": {"orders.$[o].status": "shipped"}},
                          array_filters=[{"o.status": "open"}])
        self.assertEqual([o["status"] for o in self.c.find_one()["orders"]],
                         ["shipped", "shipped", "done"])
        self.c.update_one({"_id": 1}, {"$inc": {"orders.$[o].items.$[i].q": 100}},
                          array_filters=[{"o.guid": {"$in": ["A", "B"]}}, {"i.q": {"$gt": 3}}])
        self.assertEqual([[i["q"] for i in o["items"]] for o in self.c.find_one()["orders"]],
                         [[1, 105], [107], []])
        self.c.update_one({"_id": 1}, {"$set": {"orders.$[].flag": True}})
        self.assertTrue(all(o["flag"] for o in self.c.find_one()["orders"]))
        self.assertCode(2, self.c.update_one, {"_id": 1}, {"$set": {"orders.$[x].a": 1}})
        self.assertCode(2, self.db.missing.update_one, {"_id": 1}, {"$set": {"o.$[x].a": 1}})
        self.assertCode(9, self.c.update_one, {"_id": 1}, {"$set": {"a": 1}},
                        array_filters=[{"unused.a": 1}])

    def test_replacement(self):
        self.c.insert_one({"_id": 1, "a": 1, "b": 2})
        self.c.replace_one({"_id": 1}, {"c": 3})
        self.assertEqual(self.c.find_one(), {"_id": 1, "c": 3})
        self.assertCode(66, self.c.replace_one, {"_id": 1}, {"_id": 2, "c": 3})

    def test_delete(self):
        self.c.insert_many([{"_id": i, "even": i % 2 == 0} for i in range(6)])
        self.assertEqual(self.c.delete_one({"even": True}).deleted_count, 1)
        self.assertEqual(self.c.delete_many({"even": True}).deleted_count, 2)
        self.assertEqual(self.c.delete_many({"nope": 1}).deleted_count, 0)
        self.assertEqual(self.db.missing.delete_many({}).deleted_count, 0)
        self.assertEqual(sorted(d["_id"] for d in self.c.find()), [1, 3, 5])

    def test_find_and_modify(self):
        self.c.insert_many([{"_id": i, "q": "job", "p": i} for i in range(3)])
        before = self.c.find_one_and_update({"q": "job"}, {"$set": {"taken": True}},
                                            sort=[("p", DESCENDING)], projection={"p": 1})
        self.assertEqual(before, {"_id": 2, "p": 2})
        after = self.c.find_one_and_update({"_id": 2}, {"$inc": {"p": 10}},
                                           return_document=ReturnDocument.AFTER)
        self.assertEqual(after, {"_id": 2, "q": "job", "p": 12, "taken": True})
        self.assertIsNone(self.c.find_one_and_update({"_id": 9}, {"$set": {"a": 1}}))
        up = self.c.find_one_and_update({"_id": 9}, {"$set": {"a": 1}}, upsert=True,
                                        return_document=ReturnDocument.AFTER)
        self.assertEqual(up, {"_id": 9, "a": 1})
        removed = self.c.find_one_and_delete({"q": "job"}, sort=[("p", ASCENDING)])
        self.assertEqual(removed["_id"], 0)
        replaced = self.c.find_one_and_replace({"_id": 1}, {"r": 1},
                                               return_document=ReturnDocument.AFTER)
        self.assertEqual(replaced, {"_id": 1, "r": 1})
        raw = self.db.command("findAndModify", "things", query={"_id": 50},
                              update={"$set": {"z": 1}}, upsert=True)
        self.assertEqual(raw["lastErrorObject"],
                         {"n": 1, "updatedExisting": False, "upserted": 50})
        self.assertIsNone(raw["value"])
        raw = self.db.command("findAndModify", "things", query={"_id": 50}, remove=True)
        self.assertEqual((raw["lastErrorObject"], raw["value"]), ({"n": 1}, {"_id": 50, "z": 1}))
        raw = self.db.command("findAndModify", "things", query={"_id": 1},
                              update={"$set": {"r": 2}}, new=True, fields={"r": 1, "_id": 0})
        self.assertEqual(raw["value"], {"r": 2})
        self.assertEqual(raw["lastErrorObject"], {"n": 1, "updatedExisting": True})


class ReadTest(StandinTest):
    def setUp(self):
        super().setUp()
        self.c.insert_many([{"_id": i, "n": i, "grp": "odd" if i % 2 else "even",
                             "sub": {"v": i % 3}} for i in range(250)])

    def test_find_sort_skip_limit_projection(self):
        docs = list(self.c.find({"n": {"$lt": 10}}, {"n": 1, "_id": 0})
                    .sort([("grp", ASCENDING), ("n", DESCENDING)]).skip(2).limit(3))
        self.assertEqual(docs, [{"n": 4}, {"n": 2}, {"n": 0}])
        self.assertEqual(self.c.find_one({"_id": 7}, {"sub": 0, "grp": 0}), {"_id": 7, "n": 7})
        self.assertEqual(self.c.find_one({"_id": 7}, {"sub.v": 1}), {"_id": 7, "sub": {"v": 1}})
        self.assertEqual(self.c.find_one({"_id": 1000}), None)
        self.assertEqual(len(list(self.c.find().sort("sub.v", -1))), 250)

    def test_cursor_batches_getmore_kill(self):
        cursor = self.c.find({}, batch_size=7)
        self.assertEqual([d["_id"] for d in cursor], list(range(250)))
        reply = self.db.command("find", "things", batchSize=100)
        cid = reply["cursor"]["id"]
        self.assertIsInstance(cid, Int64)
        self.assertEqual(reply["cursor"]["ns"], f"{self.db.name}.things")
        self.assertEqual(len(reply["cursor"]["firstBatch"]), 100)
        # cursors belong to the server, not to the connection
        other = self.new_client()[self.db.name]
        more = other.command("getMore", cid, collection="things", batchSize=120)
        self.assertEqual(len(more["cursor"]["nextBatch"]), 120)
        self.assertNotEqual(more["cursor"]["id"], 0)
        more = other.command("getMore", cid, collection="things")
        self.assertEqual(len(more["cursor"]["nextBatch"]), 30)
        self.assertEqual(more["cursor"]["id"], 0)
        self.assertCode(43, other.command, "getMore", cid, collection="things")
        reply = self.db.command("find", "things", batchSize=5)
        cid = reply["cursor"]["id"]
        killed = self.db.command("killCursors", "things", cursors=[cid, Int64(12345)])
        self.assertEqual((killed["cursorsKilled"], killed["cursorsNotFound"]), ([cid], [12345]))
        reply = self.db.command("find", "things", batchSize=5, singleBatch=True)
        self.assertEqual((len(reply["cursor"]["firstBatch"]), reply["cursor"]["id"]), (5, 0))
        reply = self.db.command("find", "things", limit=-3)
        self.assertEqual((len(reply["cursor"]["firstBatch"]), reply["cursor"]["id"]), (3, 0))
        reply = self.db.command("find", "things", limit=12, batchSize=5)
        more = self.db.command("getMore", reply["cursor"]["id"], collection="things")
        self.assertEqual(len(more["cursor"]["nextBatch"]), 7)
        reply = self.db.command("find", "missing")
        self.assertEqual((reply["cursor"]["firstBatch"], reply["cursor"]["id"]), ([], 0))

    def test_count_and_distinct(self):
        self.assertEqual(self.c.count_documents({"grp": "odd"}), 125)
        self.assertEqual(self.c.count_documents({}, skip=10, limit=5), 5)
        self.assertEqual(self.c.estimated_document_count(), 250)
        self.assertEqual(self.db.command("count", "things", query={"n": {"$lt": 20}},
                                         skip=5, limit=100)["n"], 15)
        self.assertEqual(sorted(self.c.distinct("sub.v")), [0, 1, 2])
        self.assertEqual(sorted(self.c.distinct("grp", {"n": {"$lt": 1}})), ["even"])
        self.c.insert_one({"tags": ["x", "y"]})
        self.assertEqual(sorted(self.c.distinct("tags")), ["x", "y"])

    def test_aggregate(self):
        rows = list(self.c.aggregate([
            {"$match": {"n": {"$lt": 10}}},
            {"$group": {"_id": "$grp", "total": {"$sum": "$n"}, "count": {"$sum": 1}}},
            {"$sort": {"_id": 1}}]))
        self.assertEqual(rows, [{"_id": "even", "total": 20, "count": 5},
                                {"_id": "odd", "total": 25, "count": 5}])
        self.c.insert_one({"_id": "o", "orders": [{"guid": "a", "v": 1}, {"guid": "b", "v": 2}]})
        rows = list(self.c.aggregate([
            {"$match": {"_id": "o"}}, {"$unwind": "$orders"},
            {"$project": {"_id": 0, "guid": "$orders.guid", "v": "$orders.v"}},
            {"$addFields": {"double": {"$multiply": ["$v", 2]}}},
            {"$sort": {"v": -1}}, {"$skip": 0}, {"$limit": 1}]))
        self.assertEqual(rows, [{"guid": "b", "v": 2, "double": 4}])
        rows = list(self.c.aggregate([{"$match": {"grp": "odd"}}, {"$count": "odds"}]))
        self.assertEqual(rows, [{"odds": 125}])
        cursor = self.c.aggregate([{"$sort": {"n": 1}}], batchSize=10)
        self.assertEqual(len(list(cursor)), 251)
        self.assertCode(115, lambda: list(self.c.aggregate([{"$out": "x"}])))

    def test_query_operators(self):
        self.c.delete_many({})
        self.c.insert_many([
            {"_id": 1, "orders": [{"guid": "g1", "st": "A"}, {"guid": "g2", "st": "B"}],
             "outbox": [{"eventId": "e"}], "n": 5, "tags": ["a", "b"]},
            {"_id": 2, "orders": [], "outbox": [], "n": Int64(7), "tags": ["c"]},
            {"_id": 3, "n": 9.5, "d": Decimal128("2.5")}])

        def ids(flt):
            return sorted(d["_id"] for d in self.c.find(flt))
        self.assertEqual(ids({"orders.guid": "g2"}), [1])
        self.assertEqual(ids({"outbox.0": {"$exists": True}}), [1])
        self.assertEqual(ids({"outbox.0": {"$exists": False}}), [2, 3])
        self.assertEqual(ids({"orders": {"$exists": False}}), [3])
        self.assertEqual(ids({"n": {"$ne": 5}}), [2, 3])
        self.assertEqual(ids({"n": {"$in": [5, 7]}}), [1, 2])
        self.assertEqual(ids({"n": {"$nin": [5, 7]}}), [3])
        self.assertEqual(ids({"n": {"$gt": 5, "$lte": 9.5}}), [2, 3])
        self.assertEqual(ids({"n": {"$gte": 5, "$lt": 7}}), [1])
        self.assertEqual(ids({"$and": [{"n": {"$gt": 1}}, {"tags": "c"}]}), [2])
        self.assertEqual(ids({"$or": [{"n": 5}, {"tags": "c"}]}), [1, 2])
        self.assertEqual(ids({"orders": {"$elemMatch": {"guid": "g1", "st": "B"}}}), [])
        self.assertEqual(ids({"orders": {"$elemMatch": {"guid": "g2", "st": "B"}}}), [1])
        self.assertEqual(ids({"orders": {"$size": 0}}), [2])
        self.assertEqual(ids({"n": {"$not": {"$gt": 6}}}), [1])
        self.assertEqual(ids({"d": {"$gt": Decimal128("1"), "$lt": 3}}), [3])
        self.assertEqual(ids({"n": {"$type": "long"}}), [2])
        self.assertEqual(ids({"n": {"$type": "int"}}), [1])
        self.assertEqual(ids({"_id": {"$in": [3, 1, 99]}}), [1, 3])
        self.assertEqual(ids({"_id": 1, "n": 6}), [])


class BsonTypesTest(StandinTest):
    def test_round_trip(self):
        oid = ObjectId()
        u = uuid.uuid4()
        doc = {"_id": oid, "i32": 7, "i64": Int64(7), "big": 2**40, "f": 1.25,
               "dec": Decimal128("123.4500"), "dt": datetime.datetime(2024, 5, 6, 7, 8, 9, 123000),
               "bin": b"\x00\x01", "uuid": Binary(u.bytes, 4), "none": None, "t": True,
               "nested": [[1, [2, {"x": [None]}]], {"k": {"z": 1, "a": 2}}], "empty": {},
               "ts": bson.Timestamp(5, 1), "re": bson.Regex("^a", "i"), "s": "ünïcode"}
        self.c.insert_one(doc)
        got = self.c.with_options(codec_options=CodecOptions(document_class=bson.SON)).find_one()
        self.assertEqual(list(got.keys()), list(doc.keys()))
        self.assertEqual(type(got["i32"]), int)
        self.assertIsInstance(got["i64"], Int64)
        self.assertIsInstance(got["big"], Int64)
        self.assertEqual(got["dec"], Decimal128("123.4500"))
        self.assertEqual(str(got["dec"]), "123.4500")
        self.assertEqual(got["dt"], doc["dt"])
        self.assertEqual(got["bin"], b"\x00\x01")
        self.assertEqual((got["uuid"].subtype, got["uuid"]), (4, Binary(u.bytes, 4)))
        self.assertEqual(bson.encode(got), bson.encode(doc))  # byte-for-byte identical
        self.assertEqual(self.c.find_one({"dt": doc["dt"]})["_id"], oid)
        self.assertEqual(self.c.find_one({"uuid": Binary(u.bytes, 4)})["_id"], oid)
        self.assertEqual(self.c.find_one({"i64": 7})["_id"], oid)


class ShutdownTest(unittest.TestCase):
    def test_sigterm_exits_cleanly(self):
        proc, port = start_server()
        client = MongoClient("127.0.0.1", port, serverSelectionTimeoutMS=5000)
        client.admin.command("ping")
        self.assertEqual(stop_server(proc)[0], 0)
        client.close()

    def test_sigint_exits_cleanly(self):
        proc, port = start_server()
        proc.send_signal(signal.SIGINT)
        self.assertEqual(proc.wait(timeout=10), 0)
        self.assertEqual(stop_server(proc)[0], 0)


if __name__ == "__main__":
    unittest.main()
