/*
 * mdp.h - the Majordomo Protocol, MDP/0.1 (ZeroMQ RFC 7): protocol headers and
 * worker commands, shared by the broker, the worker and the client.
 *
 * Client to broker:  [empty] "MDPC01" service body...
 * Broker to client:  [empty] "MDPC01" service body...
 * Worker and broker: [empty] "MDPW01" command ...
 *   READY       worker -> broker: service name
 *   REQUEST     broker -> worker: client address, empty, body...
 *   REPLY       worker -> broker: client address, empty, body...
 *   HEARTBEAT   either way, nothing else
 *   DISCONNECT  either way, nothing else
 * The empty first frame is added and removed by REQ sockets; DEALER peers
 * send it themselves. The broker's ROUTER sees the peer's identity before it.
 */
#ifndef CHUANG_MDP_H
#define CHUANG_MDP_H

#define MDP_CLIENT "MDPC01"
#define MDP_WORKER "MDPW01"

#define MDP_READY      "\001"
#define MDP_REQUEST    "\002"
#define MDP_REPLY      "\003"
#define MDP_HEARTBEAT  "\004"
#define MDP_DISCONNECT "\005"

/* Majordomo Management Interface (RFC 8): services whose names start with it
 * are answered by the broker itself. */
#define MDP_MMI_PREFIX "mmi."

/* Defaults; every process can change them in its configuration. */
#define MDP_HEARTBEAT_MS_DEFAULT 2500
#define MDP_LIVENESS_DEFAULT     3

#endif
