#!/usr/bin/env python3
"""mock_http.py - the HTTP/1.1 server the durable tests and benchmarks call.

Python 3 standard library only: asyncio protocols and a hand-written
request parser.  It listens on 127.0.0.1 ONLY (never on another address).

    python3 test/mock/mock_http.py --port 0 --port-file /tmp/x/port [--log F]

Options:
  --port N        the TCP port; 0 (the default) picks a free one
  --port-file F   once listening, write the port (digits and a newline) to F,
                  atomically (a temp file renamed over F): a reader that sees
                  F sees the whole port, and the server already accepts
  --log F         append one line per request: time, peer, method, target,
                  status, body bytes (the default: no log)
  --max-records N keep at most N recorded requests, dropping the oldest
                  (default 200000)

It stops on SIGTERM or SIGINT (exit status 0).

Protocol: HTTP/1.1 and 1.0 requests; persistent connections (keep-alive
unless "Connection: close", or HTTP/1.0 without "Connection: keep-alive");
pipelined requests are answered in order; request bodies by Content-Length
or "Transfer-Encoding: chunked" (trailers are read and ignored);
"Expect: 100-continue" is answered with "100 Continue"; HEAD gets the
headers of the GET answer without the body.  A malformed request gets 400
(a head over 64 kB 431, a body over 64 MB 413) and the connection closes.
A delayed answer never blocks other connections (a timer, no sleep).
The soft open-files limit is raised to the hard one, for 1,000+ concurrent
connections.

Endpoints (any method unless said; <x> is a path segment; unknown paths get
404 with JSON {"error": "not found", "path": ...}):

  /echo
      200 application/json {"method", "path", "query" (the raw query string,
      without "?"), "args" (the query parsed: name -> value, or a list of
      values for a repeated name), "headers" (lowercased names; repeated
      headers joined with ", "), "body" (the request body as text, UTF-8
      with replacement), "json" (the body parsed as JSON, or null)}.

  /status/<code>
      that status (200-599) with JSON {"status": code} (no body for 204 and
      304).  Query retry_after=S adds "Retry-After: S".

  /delay/<ms>
      200 after <ms> milliseconds (at most 600000), JSON {"delayed_ms": ms}.

  /seq/<key>/<s1>,<s2>,...
      The n-th request to <key> (counted per key, whatever the list and the
      query string) gets status s_n; after the list the last one repeats.
      JSON {"key", "n", "status"}.  Query retry_after=S adds "Retry-After: S"
      to 429 and 503 answers.

  /big/<bytes>
      200 text/plain, a body of that many "x" (at most 256 MB).

  /text
      200 text/plain "hello".

  /drop
      closes the connection without answering (after earlier pipelined
      answers are sent).

  /redirect/<n>
      302 with "Location: /redirect/<n-1>"; /redirect/0 answers 200 JSON
      {"redirected": true}.

  /location?to=<url>
      302 with "Location: <url>", whatever it is (file:, gopher:, ...).

  /poison/<kind>
      Hostile answers, for the tests of what a client survives:
        hugeexp     200 application/json {"a": 1e1000000000}
        deep        200 application/json, arrays nested 200,000 deep
        digits      200 application/json {"a": <a number of 200,000 digits>}
        badutf8     200 application/json {"a": "<bytes that are not UTF-8>"}
        hugelength  200 announcing "Content-Length: 1073741824"; sends 64 kB
                    and then nothing, keeping the connection open
        endless     200 "Transfer-Encoding: chunked", 64 kB chunks every
                    10 ms for as long as the client reads

  /v1/responses   (POST; other methods get 405)
      OpenAI Responses API style.  The body is JSON with "model" (required)
      and "input": a string, or an array of messages {"role", "content"}
      whose content is a string or an array of parts with "text"; optional
      "instructions" and "metadata" {"style": ...}.  The answer:
        200 {"id": "resp_<24 hex of sha256 of the request body>",
             "object": "response", "created_at": <epoch s>,
             "status": "completed", "model": <model>,
             "output": [{"type": "message", "id": "msg_<same hex>",
                         "status": "completed", "role": "assistant",
                         "content": [{"type": "output_text", "annotations": [],
                                      "text": "summary(<style>): <first 60
                                               characters of the input text>"}]}],
             "output_text": <the same text>,
             "usage": {"input_tokens": n, "output_tokens": m,
                       "total_tokens": n + m}}
      <style> is metadata.style, else "default"; the input text is the
      string input, or the messages' texts joined with "\\n"; token counts
      are whitespace-separated words (at least 1).  Bad JSON or no model: 400
      {"error": {"message", "type": "invalid_request_error"}}.
      Query fail=<status>x<k> (e.g. fail=429x2): the first k requests with
      the same Idempotency-Key header (or, without one, the same body) get
      that status with an OpenAI-style error body, and 429/503 also
      "Retry-After: 1" (query retry_after=S overrides), before one
      succeeds.  Query delay=<ms> delays the answer (failures too).

  /v1/responses/answer?text=<URL-encoded text>   (POST)
      For examples/: a model that answers exactly <text> (for instance the
      JSON a prompt asked for).  The body must be JSON with "model", as for
      /v1/responses, and the answer has the same shape, with <text> as the
      output text (and output_text).  No text: 400.

  GET /_requests?prefix=/seq/abc
      The recorded requests whose path starts with prefix (all without
      one), in arrival order, a JSON array of {"n" (arrival number, from 1),
      "time" (arrival, epoch seconds, float), "method", "path", "query",
      "args", "headers", "body"}.

  GET /_stats
      Counters since the start or the last /_reset: {"recorded" (requests
      recorded now), "in_progress" (requests read and not answered yet,
      delayed ones included), "max_in_progress" (the most at once),
      "connections" (open now), "max_connections" (the most at once),
      "connections_opened", "closed_early" (requests whose client closed
      or half-closed the connection before the answer was sent: they leave
      in_progress then)}.  Requests to /_* paths are not counted.

  POST /_reset
      Clears the recorded requests (the arrival numbers start from 1
      again), the /seq counters and the /v1/responses failure counters, and
      starts the maxima and connections_opened of /_stats afresh; answers
      200 {"reset": true}; other methods get 405.

Every request except /_requests, /_stats and /_reset is recorded when it has been
read in full (before any delay), whatever it gets: /drop and 404 too.
"""

import argparse
import asyncio
import hashlib
import json
import os
import signal
import sys
import time
from http import HTTPStatus
from urllib.parse import parse_qs

MAX_HEAD = 64 * 1024
MAX_BODY = 64 * 1024 * 1024
MAX_DELAY_MS = 600_000
MAX_BIG = 256 * 1024 * 1024
# stop reading a connection while its answer is delayed and this much of
# the next (pipelined) requests is buffered
MAX_BUFFERED = 1024 * 1024
HEXDIGITS = b"0123456789abcdefABCDEF"


def reason(code):
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Status %d" % code


class BadRequest(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class Request:
    __slots__ = ("method", "target", "path", "query", "version", "headers",
                 "header_list", "body", "keep_alive")

    def header(self, name, default=None):
        return self.headers.get(name, default)


class Response:
    __slots__ = ("status", "headers", "body", "content_type", "delay", "drop",
                 "stream")

    def __init__(self, status=200, body=b"", content_type=None, headers=None,
                 delay=0.0, drop=False, stream=None):
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or []
        self.delay = delay
        self.drop = drop
        # (bytes written at once, bytes written again every 10 ms or None):
        # a raw answer that never ends; the connection stays open
        self.stream = stream


def json_response(status, obj, headers=None, delay=0.0):
    return Response(status, json.dumps(obj).encode(), "application/json",
                    headers, delay)


def args_of(query):
    out = {}
    for name, values in parse_qs(query, keep_blank_values=True).items():
        out[name] = values[0] if len(values) == 1 else values
    return out


def first_arg(query, name):
    if not query:
        return None
    values = parse_qs(query, keep_blank_values=True).get(name)
    return values[0] if values else None


def int_segment(text, low, high):
    if not text.isdigit():
        return None
    n = int(text)
    return n if low <= n <= high else None


class State:
    """What the server remembers across connections."""

    def __init__(self, max_records, log):
        self.records = []
        self.max_records = max_records
        self.count = 0
        self.seq = {}
        self.ai_fail = {}
        self.log = log
        self.in_progress = 0
        self.max_in_progress = 0
        self.connections = 0
        self.max_connections = 0
        self.connections_opened = 0
        self.closed_early = 0

    def reset(self):
        self.records.clear()
        self.count = 0
        self.seq.clear()
        self.ai_fail.clear()
        self.max_in_progress = self.in_progress
        self.max_connections = self.connections
        self.connections_opened = 0
        self.closed_early = 0

    def stats(self):
        return {"recorded": len(self.records),
                "in_progress": self.in_progress,
                "max_in_progress": self.max_in_progress,
                "connections": self.connections,
                "max_connections": self.max_connections,
                "connections_opened": self.connections_opened,
                "closed_early": self.closed_early}


class App:
    def __init__(self, state):
        self.state = state

    def handle(self, req):
        path = req.path
        if path == "/_requests":
            return self.requests(req)
        if path == "/_reset":
            if req.method != "POST":
                return json_response(405, {"error": "use POST"},
                                     [("Allow", "POST")])
            self.state.reset()
            return json_response(200, {"reset": True})
        if path == "/_stats":
            return json_response(200, self.state.stats())
        self.record(req)
        parts = path.split("/")   # "/a/b" -> ["", "a", "b"]
        head = parts[1] if len(parts) > 1 else ""
        n = len(parts)
        if head == "echo" and n == 2:
            return self.echo(req)
        if head == "status" and n == 3:
            return self.status(req, parts[2])
        if head == "delay" and n == 3:
            return self.delay(req, parts[2])
        if head == "seq" and n == 4:
            return self.seq(req, parts[2], parts[3])
        if head == "big" and n == 3:
            return self.big(req, parts[2])
        if head == "text" and n == 2:
            return Response(200, b"hello", "text/plain")
        if head == "drop" and n == 2:
            return Response(drop=True)
        if head == "redirect" and n == 3:
            return self.redirect(req, parts[2])
        if head == "location" and n == 2:
            to = first_arg(req.query, "to") or "/"
            return json_response(302, {"location": to}, [("Location", to)])
        if head == "poison" and n == 3:
            return self.poison(parts[2])
        if path == "/v1/responses":
            return self.ai(req)
        # -- for examples/ ------------------------------------------------
        if path == "/v1/responses/answer":
            return self.ai_answer(req)
        return json_response(404, {"error": "not found", "path": path})

    # -- recording ------------------------------------------------------
    def record(self, req):
        st = self.state
        st.count += 1
        st.records.append({
            "n": st.count,
            "time": time.time(),
            "method": req.method,
            "path": req.path,
            "query": req.query,
            "args": args_of(req.query),
            "headers": req.headers,
            "body": req.body.decode("utf-8", "replace"),
        })
        if len(st.records) > st.max_records:
            del st.records[: len(st.records) - st.max_records]

    def requests(self, req):
        prefix = first_arg(req.query, "prefix") or ""
        out = [r for r in self.state.records if r["path"].startswith(prefix)]
        return json_response(200, out)

    # -- endpoints ------------------------------------------------------
    def echo(self, req):
        text = req.body.decode("utf-8", "replace")
        parsed = None
        if req.body:
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
        return json_response(200, {
            "method": req.method,
            "path": req.path,
            "query": req.query,
            "args": args_of(req.query),
            "headers": req.headers,
            "body": text,
            "json": parsed,
        })

    def status(self, req, code_text):
        code = int_segment(code_text, 200, 599)
        if code is None:
            return json_response(400, {"error": "status must be 200-599"})
        headers = []
        ra = first_arg(req.query, "retry_after")
        if ra is not None:
            headers.append(("Retry-After", ra))
        return json_response(code, {"status": code}, headers)

    def delay(self, req, ms_text):
        ms = int_segment(ms_text, 0, MAX_DELAY_MS)
        if ms is None:
            return json_response(400, {"error": "delay must be 0-%d ms" % MAX_DELAY_MS})
        return json_response(200, {"delayed_ms": ms}, delay=ms / 1000.0)

    def seq(self, req, key, list_text):
        try:
            statuses = [int(s) for s in list_text.split(",")]
        except ValueError:
            statuses = []
        if not statuses or any(not 200 <= s <= 599 for s in statuses):
            return json_response(400, {"error": "statuses must be 200-599, comma-separated"})
        n = self.state.seq.get(key, 0) + 1
        self.state.seq[key] = n
        code = statuses[min(n, len(statuses)) - 1]
        headers = []
        ra = first_arg(req.query, "retry_after")
        if ra is not None and code in (429, 503):
            headers.append(("Retry-After", ra))
        return json_response(code, {"key": key, "n": n, "status": code}, headers)

    def big(self, req, size_text):
        size = int_segment(size_text, 0, MAX_BIG)
        if size is None:
            return json_response(400, {"error": "size must be 0-%d bytes" % MAX_BIG})
        return Response(200, b"x" * size, "text/plain")

    def poison(self, kind):
        depth = 200000
        if kind == "hugeexp":
            return Response(200, b'{"a": 1e1000000000}', "application/json")
        if kind == "deep":
            return Response(200, b"[" * depth + b"]" * depth, "application/json")
        if kind == "digits":
            return Response(200, b'{"a": 1' + b"0" * (depth - 1) + b"}",
                            "application/json")
        if kind == "badutf8":
            return Response(200, b'{"a": "\xff\xfe\xfd"}', "application/json")
        if kind == "hugelength":
            head = (b"HTTP/1.1 200 OK\r\nServer: durable-mock\r\n"
                    b"Content-Type: application/json\r\n"
                    b"Content-Length: 1073741824\r\n\r\n")
            return Response(stream=(head + b"[" * 65536, None))
        if kind == "endless":
            head = (b"HTTP/1.1 200 OK\r\nServer: durable-mock\r\n"
                    b"Content-Type: application/json\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n")
            chunk = b"10000\r\n" + b"x" * 65536 + b"\r\n"
            return Response(stream=(head, chunk))
        return json_response(404, {"error": "no such poison", "kind": kind})

    def redirect(self, req, n_text):
        n = int_segment(n_text, 0, 1000)
        if n is None:
            return json_response(400, {"error": "redirect count must be 0-1000"})
        if n == 0:
            return json_response(200, {"redirected": True})
        location = "/redirect/%d" % (n - 1)
        return json_response(302, {"location": location}, [("Location", location)])

    def ai(self, req):
        def error(status, message, etype, code=None, headers=None, delay=0.0):
            return json_response(status, {"error": {
                "message": message, "type": etype, "param": None, "code": code}},
                headers, delay)

        if req.method != "POST":
            return Response(405, b'{"error": {"message": "use POST"}}',
                            "application/json", [("Allow", "POST")])
        delay = 0.0
        delay_text = first_arg(req.query, "delay")
        if delay_text is not None:
            ms = int_segment(delay_text, 0, MAX_DELAY_MS)
            if ms is None:
                return error(400, "delay must be 0-%d ms" % MAX_DELAY_MS,
                             "invalid_request_error")
            delay = ms / 1000.0
        fail = first_arg(req.query, "fail")
        if fail is not None:
            status_text, _, k_text = fail.partition("x")
            code = int_segment(status_text, 400, 599)
            k = int_segment(k_text, 0, 1_000_000)
            if code is None or k is None:
                return error(400, "fail must be <status>x<count>, e.g. 429x2",
                             "invalid_request_error")
            key = req.header("idempotency-key")
            if key is None:
                key = "body:" + hashlib.sha256(req.body).hexdigest()
            key = "%s|%s" % (fail, key)
            seen = self.state.ai_fail.get(key, 0) + 1
            self.state.ai_fail[key] = seen
            if seen <= k:
                headers = []
                if code in (429, 503):
                    headers.append(("Retry-After",
                                    first_arg(req.query, "retry_after") or "1"))
                if code == 429:
                    return error(429, "Rate limit reached (mock, attempt %d of %d failing)"
                                 % (seen, k), "requests", "rate_limit_exceeded",
                                 headers, delay)
                return error(code, "The server had an error (mock, attempt %d of %d failing)"
                             % (seen, k), "server_error", None, headers, delay)
        try:
            body = json.loads(req.body.decode("utf-8"))
        except ValueError:
            return error(400, "the body is not valid JSON", "invalid_request_error")
        if not isinstance(body, dict):
            return error(400, "the body must be a JSON object", "invalid_request_error")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return error(400, "missing required parameter: 'model'",
                         "invalid_request_error", "missing_required_parameter")
        text_in = input_text(body.get("input"))
        style = "default"
        meta = body.get("metadata")
        if isinstance(meta, dict) and isinstance(meta.get("style"), str):
            style = meta["style"]
        text_out = "summary(%s): %s" % (style, text_in[:60])
        digest = hashlib.sha256(req.body).hexdigest()[:24]
        n_in = max(1, len((text_in + " " + str(body.get("instructions") or "")).split()))
        n_out = max(1, len(text_out.split()))
        return json_response(200, {
            "id": "resp_" + digest,
            "object": "response",
            "created_at": int(time.time()),
            "status": "completed",
            "model": model,
            "output": [{
                "type": "message",
                "id": "msg_" + digest,
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text_out,
                             "annotations": []}],
            }],
            "output_text": text_out,
            "usage": {"input_tokens": n_in, "output_tokens": n_out,
                      "total_tokens": n_in + n_out},
        }, delay=delay)


    # -- for examples/: a model with a given answer ---------------------
    def ai_answer(self, req):
        def error(status, message):
            return json_response(status, {"error": {
                "message": message, "type": "invalid_request_error",
                "param": None, "code": None}})

        if req.method != "POST":
            return Response(405, b'{"error": {"message": "use POST"}}',
                            "application/json", [("Allow", "POST")])
        text_out = first_arg(req.query, "text")
        if text_out is None:
            return error(400, "query parameter text is required")
        try:
            body = json.loads(req.body.decode("utf-8"))
        except ValueError:
            return error(400, "the body is not valid JSON")
        if not isinstance(body, dict) or not isinstance(body.get("model"), str) \
                or not body["model"]:
            return error(400, "missing required parameter: 'model'")
        digest = hashlib.sha256(req.body).hexdigest()[:24]
        n_in = max(1, len(input_text(body.get("input")).split()))
        n_out = max(1, len(text_out.split()))
        return json_response(200, {
            "id": "resp_" + digest,
            "object": "response",
            "created_at": int(time.time()),
            "status": "completed",
            "model": body["model"],
            "output": [{
                "type": "message",
                "id": "msg_" + digest,
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text_out,
                             "annotations": []}],
            }],
            "output_text": text_out,
            "usage": {"input_tokens": n_in, "output_tokens": n_out,
                      "total_tokens": n_in + n_out},
        })


def input_text(value):
    """The text of a Responses API input: a string or a list of messages."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        texts = []
        for item in value:
            if isinstance(item, str):
                texts.append(item)
            elif isinstance(item, dict):
                content = item.get("content", item.get("text"))
                if isinstance(content, str):
                    texts.append(content)
                elif isinstance(content, list):
                    for part in content:
                        if isinstance(part, dict) and isinstance(part.get("text"), str):
                            texts.append(part["text"])
                        elif isinstance(part, str):
                            texts.append(part)
        return "\n".join(texts)
    return json.dumps(value)


class HttpProtocol(asyncio.Protocol):
    """One client connection: parse, answer in order, keep alive."""

    def __init__(self, app, state):
        self.app = app
        self.state = state
        self.transport = None
        self.buf = bytearray()
        self.req = None          # the request whose body is being read
        self.body_left = 0       # Content-Length bytes still to come
        self.chunked = False
        self.chunk_state = None  # "size", "data", "trailer"
        self.chunk_left = 0
        self.body = None
        self.continue_sent = False
        self.waiting = None      # timer handle of a delayed answer
        self.paused = False
        self.closing = False
        self.eof = False
        self.counted = False     # the request being answered counts in in_progress
        self.peer = "-"

    # -- asyncio callbacks ---------------------------------------------
    def connection_made(self, transport):
        self.transport = transport
        st = self.state
        st.connections += 1
        st.connections_opened += 1
        if st.connections > st.max_connections:
            st.max_connections = st.connections
        peer = transport.get_extra_info("peername")
        if peer:
            self.peer = "%s:%s" % (peer[0], peer[1])

    def connection_lost(self, exc):
        self.closing = True
        self.state.connections -= 1
        if self.counted:
            self.state.closed_early += 1
        self.uncount()
        if self.waiting is not None:
            self.waiting.cancel()
            self.waiting = None

    def data_received(self, data):
        self.buf += data
        self.process()

    def eof_received(self):
        # the client half-closed: answer what was complete, then close.  A
        # request whose answer is delayed or streamed no longer counts in
        # in_progress: nobody waits for it (clients that give up, such as
        # curl after a timeout, close this way)
        self.eof = True
        if self.waiting is None:
            self.closing = True
            self.transport.close()
            return False
        if self.counted:
            self.state.closed_early += 1
        self.uncount()
        return True

    # -- parsing ---------------------------------------------------------
    def process(self):
        while not self.closing and self.waiting is None:
            try:
                req = self.parse_one()
            except BadRequest as e:
                self.send_error(e.status, str(e))
                return
            if req is None:
                break
            if not req.path.startswith("/_"):
                st = self.state
                st.in_progress += 1
                if st.in_progress > st.max_in_progress:
                    st.max_in_progress = st.in_progress
                self.counted = True
            try:
                resp = self.app.handle(req)
            except Exception as e:  # a bug in a handler: answer 500, go on
                resp = json_response(500, {"error": "mock bug: %r" % (e,)})
            if resp.stream is not None:
                self.log(req, "stream", 0)
                self.transport.write(resp.stream[0])
                self.more(resp.stream[1])
                break
            if resp.drop:
                self.uncount()
                self.log(req, "drop", 0)
                self.closing = True
                self.transport.close()
                return
            if resp.delay > 0:
                self.waiting = asyncio.get_running_loop().call_later(
                    resp.delay, self.delayed, req, resp)
                break
            self.send(req, resp)
        if self.waiting is not None and not self.paused and len(self.buf) > MAX_BUFFERED:
            self.paused = True
            self.transport.pause_reading()

    def more(self, data):
        """Writes data every 10 ms (or nothing) until the connection ends."""
        if self.closing:
            return
        if data is not None and self.transport.get_write_buffer_size() < 4 * 1024 * 1024:
            self.transport.write(data)
        self.waiting = asyncio.get_running_loop().call_later(0.01, self.more, data)

    def delayed(self, req, resp):
        self.waiting = None
        if self.closing:
            return
        self.send(req, resp)
        if self.paused:
            self.paused = False
            self.transport.resume_reading()
        self.process()
        if self.eof and self.waiting is None and not self.closing:
            self.closing = True
            self.transport.close()

    def parse_one(self):
        """The next complete request from the buffer, or None for more."""
        buf = self.buf
        if self.req is None:
            # RFC 9112 2.2: ignore empty lines before a request line
            while buf[:2] == b"\r\n":
                del buf[:2]
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    raise BadRequest(431, "request head too large")
                return None
            if end > MAX_HEAD:
                raise BadRequest(431, "request head too large")
            head = bytes(buf[:end]).decode("latin-1")
            del buf[: end + 4]
            self.req = self.parse_head(head)
            self.continue_sent = False
        req = self.req
        if self.chunked:
            if not self.read_chunks():
                self.maybe_continue(req)
                return None
        else:
            if len(buf) < self.body_left:
                self.maybe_continue(req)
                return None
            self.body = bytes(buf[: self.body_left])
            del buf[: self.body_left]
            self.body_left = 0
        req.body = self.body if isinstance(self.body, bytes) else bytes(self.body)
        self.req = None
        self.body = None
        self.chunked = False
        return req

    def parse_head(self, head):
        lines = head.split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[0] or not parts[1]:
            raise BadRequest(400, "bad request line")
        method, target, version = parts
        if version not in ("HTTP/1.1", "HTTP/1.0"):
            raise BadRequest(505 if version.startswith("HTTP/") else 400,
                             "unsupported version")
        if not method.isalpha() or not method.isupper():
            raise BadRequest(400, "bad method")
        headers = {}
        header_list = []
        for line in lines[1:]:
            if not line or line[0] in " \t":
                raise BadRequest(400, "obsolete line folding or empty header line")
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip() or " " in name:
                raise BadRequest(400, "bad header line")
            name = name.lower()
            value = value.strip(" \t")
            header_list.append((name, value))
            headers[name] = headers[name] + ", " + value if name in headers else value
        req = Request()
        req.method = method
        req.target = target
        path, _, query = target.partition("?")
        if path.startswith("http://") or path.startswith("https://"):
            # absolute form: keep the path only
            rest = path.split("://", 1)[1]
            slash = rest.find("/")
            path = rest[slash:] if slash >= 0 else "/"
        req.path = path
        req.query = query
        req.version = version
        req.headers = headers
        req.header_list = header_list
        conn = headers.get("connection", "").lower()
        if version == "HTTP/1.1":
            req.keep_alive = "close" not in conn
        else:
            req.keep_alive = "keep-alive" in conn
        te = headers.get("transfer-encoding")
        self.body_left = 0
        self.chunked = False
        if te is not None:
            if te.lower().split(",")[-1].strip() != "chunked":
                raise BadRequest(400, "unsupported transfer-encoding")
            self.chunked = True
            self.chunk_state = "size"
            self.body = bytearray()
            # RFC 9112 6.1: with both, close after the answer
            if "content-length" in headers:
                req.keep_alive = False
        elif "content-length" in headers:
            values = {v.strip() for v in headers["content-length"].split(",")}
            if len(values) != 1:
                raise BadRequest(400, "conflicting content-length")
            value = values.pop()
            if not value.isdigit():
                raise BadRequest(400, "bad content-length")
            self.body_left = int(value)
            if self.body_left > MAX_BODY:
                raise BadRequest(413, "request body too large")
        return req

    def read_chunks(self):
        """Consume chunked body data; True once the whole body is read."""
        buf = self.buf
        while True:
            if self.chunk_state == "size":
                end = buf.find(b"\r\n")
                if end < 0:
                    if len(buf) > 1024:
                        raise BadRequest(400, "bad chunk size line")
                    return False
                line = bytes(buf[:end]).split(b";", 1)[0].strip()
                del buf[: end + 2]
                if not line or len(line) > 16 or line.strip(HEXDIGITS):
                    raise BadRequest(400, "bad chunk size")
                size = int(line, 16)
                if size == 0:
                    self.chunk_state = "trailer"
                    continue
                if len(self.body) + size > MAX_BODY:
                    raise BadRequest(413, "request body too large")
                self.chunk_left = size
                self.chunk_state = "data"
            elif self.chunk_state == "data":
                if len(buf) < self.chunk_left + 2:
                    # take what is there, keep the CRLF check for later
                    take = min(len(buf), self.chunk_left)
                    if take:
                        self.body += buf[:take]
                        del buf[:take]
                        self.chunk_left -= take
                    return False
                self.body += buf[: self.chunk_left]
                if buf[self.chunk_left: self.chunk_left + 2] != b"\r\n":
                    raise BadRequest(400, "chunk not followed by CRLF")
                del buf[: self.chunk_left + 2]
                self.chunk_left = 0
                self.chunk_state = "size"
            else:  # trailer lines until an empty one
                end = buf.find(b"\r\n")
                if end < 0:
                    if len(buf) > MAX_HEAD:
                        raise BadRequest(431, "trailers too large")
                    return False
                del buf[: end + 2]
                if end == 0:
                    self.body = bytes(self.body)
                    return True

    def maybe_continue(self, req):
        if (not self.continue_sent and req.version == "HTTP/1.1"
                and req.headers.get("expect", "").lower() == "100-continue"):
            self.continue_sent = True
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    # -- answering -------------------------------------------------------
    def uncount(self):
        if self.counted:
            self.counted = False
            self.state.in_progress -= 1

    def send(self, req, resp):
        self.uncount()
        status = resp.status
        no_body = status in (204, 304) or 100 <= status < 200
        lines = ["HTTP/1.1 %d %s" % (status, reason(status)),
                 "Server: durable-mock"]
        if resp.content_type and not no_body:
            lines.append("Content-Type: " + resp.content_type)
        if not no_body:
            lines.append("Content-Length: %d" % len(resp.body))
        for name, value in resp.headers:
            lines.append("%s: %s" % (name, value))
        keep = req.keep_alive
        if keep:
            if req.version == "HTTP/1.0":
                lines.append("Connection: keep-alive")
        else:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if no_body or req.method == "HEAD":
            self.transport.write(head)
        elif len(resp.body) > 65536:
            self.transport.writelines((head, resp.body))
        else:
            self.transport.write(head + resp.body)
        self.log(req, status, 0 if no_body else len(resp.body))
        if not keep:
            self.closing = True
            self.transport.close()

    def send_error(self, status, message):
        body = json.dumps({"error": message}).encode()
        self.transport.write(
            ("HTTP/1.1 %d %s\r\nServer: durable-mock\r\nContent-Type: application/json\r\n"
             "Content-Length: %d\r\nConnection: close\r\n\r\n"
             % (status, reason(status), len(body))).encode("latin-1") + body)
        self.closing = True
        self.transport.close()
        if self.state.log:
            self.state.log.write("%.3f %s - - %d %s\n" % (time.time(), self.peer, status, message))
            self.state.log.flush()

    def log(self, req, status, nbytes):
        log = self.state.log
        if log:
            log.write("%.3f %s %s %s %s %d\n"
                      % (time.time(), self.peer, req.method, req.target, status, nbytes))
            log.flush()


def raise_nofile():
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = hard if hard != resource.RLIM_INFINITY else 65536
        if soft != resource.RLIM_INFINITY and soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ImportError, ValueError, OSError):
        pass


def write_port_file(path, port):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


async def serve(args):
    log = open(args.log, "a", buffering=1) if args.log else None
    state = State(args.max_records, log)
    app = App(state)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: HttpProtocol(app, state), host="127.0.0.1", port=args.port,
        backlog=4096, reuse_address=True)
    port = server.sockets[0].getsockname()[1]
    if args.port_file:
        write_port_file(args.port_file, port)
    if log:
        log.write("%.3f listening on 127.0.0.1:%d (pid %d)\n" % (time.time(), port, os.getpid()))
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    async with server:
        await stop
    if log:
        log.write("%.3f stopped\n" % time.time())
        log.close()


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="mock HTTP server for the durable tests (127.0.0.1 only)")
    parser.add_argument("--port", type=int, default=0,
                        help="TCP port (0: pick a free one)")
    parser.add_argument("--port-file", help="write the port here once listening")
    parser.add_argument("--log", help="append one line per request here")
    parser.add_argument("--max-records", type=int, default=200000,
                        help="recorded requests kept (oldest dropped)")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error("--port must be 0-65535")
    raise_nofile()
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
