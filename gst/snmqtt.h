/* snmqtt.h - publishes lines of text to an MQTT broker (libmosquitto) from
 * a thread of its own, for `shufflenetjson`.
 *
 * The caller's thread (GStreamer's streaming thread) only appends lines to
 * a bounded queue and never waits on the network: when the queue is full
 * the oldest line is dropped and counted. The publisher thread connects,
 * publishes the queue in order, reconnects with exponential backoff (and
 * jitter) when the broker goes away, and reports what happens through a
 * callback. At EOS sn_mqtt_flush() waits (bounded) for the queue to reach
 * the broker.
 *
 * URLs are those `mosquitto_pub -L` takes:
 *   mqtt://[user[:password]@]host[:port]/topic     (port 1883)
 *   mqtts://[user[:password]@]host[:port]/topic    (TLS, port 8883)
 * plus an IPv6 host in brackets ([::1]:1883). Nothing is percent-decoded
 * (as mosquitto_pub); the user info ends at the last '@' before the first
 * '/'. Passwords are never logged: every text this file produces names the
 * broker by sn_url_mask_password()'s form or by host:port.
 */
#ifndef __SN_MQTT_H__
#define __SN_MQTT_H__

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  gboolean tls;                 /* mqtts:// */
  gchar *host;                  /* without brackets for IPv6 */
  guint port;
  gchar *user;                  /* NULL: none */
  gchar *password;              /* NULL: none given in the URL */
  gchar *topic;
} SnMqttUrl;

/* TRUE when @location starts with mqtt:// or mqtts:// (any case). */
gboolean sn_mqtt_is_url (const gchar * location);

/* Parses @url into @out (free with sn_mqtt_url_clear). On failure returns
 * FALSE with @error set; its message quotes the URL masked. */
gboolean sn_mqtt_url_parse (const gchar * url, SnMqttUrl * out,
    GError ** error);
void sn_mqtt_url_clear (SnMqttUrl * url);

/* @url with the password (everything between the ':' after the user name
 * and the last '@' before the path, and more where the text is ambiguous)
 * replaced by "***". Works for any scheme://user:password@host... (rtsp://
 * too); a string without a password comes back unchanged. NULL -> NULL. */
gchar *sn_url_mask_password (const gchar * url);

/* The first line of the file @path (a password), without its line end.
 * Refused with @error when the file is readable or writable by its group
 * or others (mode & 077), empty, or larger than 4 KiB. */
gchar *sn_read_secret_file (const gchar * path, GError ** error);

/* What the publisher thread reports (from its own thread). */
typedef enum
{
  SN_MQTT_EVENT_CONNECTED,      /* connected (again): message says to what */
  SN_MQTT_EVENT_DISCONNECTED,   /* connection lost or refused; retrying */
  SN_MQTT_EVENT_FATAL           /* the broker refused us for good (credentials,
                                 * TLS): no more retries, publishing fails */
} SnMqttEvent;

typedef void (*SnMqttNotify) (gpointer user_data, SnMqttEvent event,
    const gchar * message);

typedef struct
{
  const gchar *url;             /* as parsed by sn_mqtt_url_parse */
  /* The password when the URL carries none: the first line of this file
   * (sn_read_secret_file), else $password_env when set; both may be NULL. */
  const gchar *password_file;
  const gchar *password_env;
  const gchar *ca_file;         /* mqtts: CA certificates (PEM); NULL: the system's */
  gint qos;                     /* 0 or 1 */
  guint queue_size;             /* lines kept while the broker is away (>= 1) */
  guint first_wait_ms;          /* how long sn_mqtt_new waits for the first
                                 * connection attempt's outcome */
  SnMqttNotify notify;          /* may be NULL */
  gpointer user_data;
} SnMqttSettings;

typedef struct _SnMqtt SnMqtt;

/* Validates @settings, starts the publisher thread and waits up to
 * first_wait_ms for its first connection attempt. NULL with @error when
 * the URL is bad, the password file unusable, the CA file missing, or the
 * broker refused us for good in that time (credentials, TLS); nothing runs
 * then. A broker that is away is not an error: the thread keeps trying. */
SnMqtt *sn_mqtt_new (const SnMqttSettings * settings, GError ** error);

/* Queues @line (transfer full, no trailing newline) for publishing. Never
 * blocks on the network. FALSE once the publisher has failed for good
 * (SN_MQTT_EVENT_FATAL): the line is freed. */
gboolean sn_mqtt_publish (SnMqtt * mqtt, gchar * line);

/* Waits until every queued line has been handed to the broker (QoS 1:
 * acknowledged; QoS 0: written to the socket), at most @timeout_ms. TRUE
 * when everything went out. */
gboolean sn_mqtt_flush (SnMqtt * mqtt, guint timeout_ms);

/* Lines given up: dropped from the full queue, or still queued or
 * unacknowledged when sn_mqtt_free ran. A line sent before a connection
 * loss and not acknowledged goes back to the queue, and may then be
 * dropped although the broker had received it. */
guint64 sn_mqtt_get_dropped (SnMqtt * mqtt);
/* Lines handed to the broker (QoS 1: acknowledged). */
guint64 sn_mqtt_get_published (SnMqtt * mqtt);

/* "host:port/topic" for messages (no user, no password). */
const gchar *sn_mqtt_get_target (SnMqtt * mqtt);

/* Flushes for at most @timeout_ms, disconnects, stops the thread. Lines
 * still undelivered are added to the dropped count, which is returned. */
guint64 sn_mqtt_free (SnMqtt * mqtt, guint timeout_ms);

G_END_DECLS

#endif /* __SN_MQTT_H__ */
