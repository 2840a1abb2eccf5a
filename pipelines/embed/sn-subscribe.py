#!/usr/bin/python3
"""sn-subscribe.py - collect what a fleet of pipelines publishes: subscribe
to an MQTT topic filter (one topic per camera, e.g.
sites/+/cams/+/shufflenet) and print each camera's results as they arrive.

    sn-subscribe.py mqtt://[user@]host[:port]/sites/+/cams/+/shufflenet

The password, when the broker wants one, comes from
$SHUFFLENET_MQTT_PASSWORD (never the command line). Needs Debian's
python3-paho-mqtt. --count N stops after N messages, --timeout S after S
seconds without one; --json prints the payloads as they came (one JSON
line per message, for a program to read).
"""
import argparse
import json
import os
import sys
import threading
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("url", help="mqtt[s]://[user@]host[:port]/topic-filter")
    p.add_argument("--count", type=int, default=0)
    p.add_argument("--timeout", type=float, default=0)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    url = urlsplit(args.url)
    if url.scheme not in ("mqtt", "mqtts") or not url.hostname \
            or len(url.path) < 2:
        p.error("the URL must be mqtt[s]://[user@]host[:port]/topic-filter")
    topic = url.path[1:]
    received, done = [0], threading.Event()

    def on_connect(client, userdata, flags, rc):
        if rc != 0:
            print(f"sn-subscribe.py: {mqtt.connack_string(rc)}",
                  file=sys.stderr)
            done.set()
        else:
            client.subscribe(topic, qos=1)

    def on_subscribe(client, userdata, mid, granted_qos):
        print(f"sn-subscribe.py: listening to {topic} at {url.hostname}",
              file=sys.stderr, flush=True)

    def on_message(client, userdata, msg):
        line = msg.payload.decode("utf-8", "replace")
        if args.json:
            print(line, flush=True)
        else:
            r = json.loads(line)
            best = r["classes"][0] if r["classes"] else {}
            print(f"{msg.topic} frame {r['frame']}: {best.get('label')} "
                  f"{best.get('score', 0):.2f}"
                  f"{' (stale)' if r['stale'] else ''}", flush=True)
        received[0] += 1
        if args.count and received[0] >= args.count:
            done.set()

    client = mqtt.Client()
    if url.username:
        client.username_pw_set(url.username,
                               os.environ.get("SHUFFLENET_MQTT_PASSWORD"))
    if url.scheme == "mqtts":
        client.tls_set()
    client.on_connect, client.on_message = on_connect, on_message
    client.on_subscribe = on_subscribe
    client.connect(url.hostname, url.port or (8883 if url.scheme == "mqtts"
                                              else 1883))
    client.loop_start()
    try:
        while True:  # until --count, a quiet spell of --timeout, or Ctrl-C
            before = received[0]
            if done.wait(args.timeout or None) or received[0] == before:
                break
    except KeyboardInterrupt:
        pass
    client.loop_stop()
    client.disconnect()
    return 0 if received[0] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
