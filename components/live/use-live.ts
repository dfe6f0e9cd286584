'use client';

import { useEffect, useRef, useSyncExternalStore } from 'react';
import { io, type Socket } from 'socket.io-client';
import { redirectToLogin } from '@/components/auth/redirect';
import {
  type BrowserToServerEvents,
  LIVE_NAMESPACE,
  type LiveRoom,
  type NodeStatusChange,
  type ServerToBrowserEvents,
} from '@/lib/protocol/live';

/**
 * One socket.io connection to `/live` per browser page, shared by every component that
 * needs live data. Components join rooms (reference counted); the connection re-joins all
 * of them after every (re)connect, remembers the latest payload of each event, and reports
 * its state for the connection indicator.
 */

export type LiveStatus = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'unauthorized';
export type LiveEvent = keyof ServerToBrowserEvents;
export type LivePayload<E extends LiveEvent> = Parameters<ServerToBrowserEvents[E]>[0];

type LiveSocket = Socket<ServerToBrowserEvents, BrowserToServerEvents>;
type AnyHandler = (payload: never) => void;

const EVENTS: readonly LiveEvent[] = [
  'fleet:summary',
  'fleet:gpus',
  'deployment:latency',
  'node:status',
  'allocation:change',
  'stress:update',
];
/** Closing or leaving waits this long, so a page navigation does not drop and re-open. */
const LINGER_MS = 1_500;
const MANUAL_RETRY_MS = 2_000;

class LiveConnection {
  private socket: LiveSocket | null = null;
  private users = 0;
  private closeTimer: ReturnType<typeof setTimeout> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly rooms = new Map<LiveRoom, number>();
  private readonly leaveTimers = new Map<LiveRoom, ReturnType<typeof setTimeout>>();
  private readonly handlers = new Map<LiveEvent, Set<AnyHandler>>();
  private readonly latest = new Map<LiveEvent, unknown>();
  private readonly storeListeners = new Set<() => void>();
  private nodeStatuses: ReadonlyMap<string, NodeStatusChange> = new Map();
  status: LiveStatus = 'idle';
  lastEventAt: number | null = null;

  /** Keeps the connection open until the returned function is called. */
  acquire(): () => void {
    this.users += 1;
    if (this.closeTimer) {
      clearTimeout(this.closeTimer);
      this.closeTimer = null;
    }
    this.open();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.users -= 1;
      if (this.users === 0) this.closeTimer = setTimeout(() => this.close(), LINGER_MS);
    };
  }

  /** Joins a room until the returned function is called. */
  join(room: LiveRoom): () => void {
    const pendingLeave = this.leaveTimers.get(room);
    if (pendingLeave) {
      clearTimeout(pendingLeave);
      this.leaveTimers.delete(room);
    }
    const count = this.rooms.get(room) ?? 0;
    this.rooms.set(room, count + 1);
    if (count === 0 && this.socket?.connected) this.subscribe(room);
    let left = false;
    return () => {
      if (left) return;
      left = true;
      const remaining = (this.rooms.get(room) ?? 1) - 1;
      this.rooms.set(room, remaining);
      if (remaining > 0) return;
      this.leaveTimers.set(
        room,
        setTimeout(() => {
          this.leaveTimers.delete(room);
          if ((this.rooms.get(room) ?? 0) > 0) return;
          this.rooms.delete(room);
          if (this.socket?.connected) this.socket.emit('unsubscribe', room);
          // What was received may have come from that room: start the remaining views afresh.
          this.latest.clear();
          this.nodeStatuses = new Map();
          this.notify();
        }, LINGER_MS),
      );
    };
  }

  on<E extends LiveEvent>(event: E, handler: (payload: LivePayload<E>) => void): () => void {
    let set = this.handlers.get(event);
    if (!set) {
      set = new Set();
      this.handlers.set(event, set);
    }
    set.add(handler as AnyHandler);
    return () => set.delete(handler as AnyHandler);
  }

  getLatest<E extends LiveEvent>(event: E): LivePayload<E> | null {
    return (this.latest.get(event) as LivePayload<E> | undefined) ?? null;
  }

  getNodeStatuses(): ReadonlyMap<string, NodeStatusChange> {
    return this.nodeStatuses;
  }

  subscribeStore = (listener: () => void): (() => void) => {
    this.storeListeners.add(listener);
    return () => this.storeListeners.delete(listener);
  };

  private notify(): void {
    for (const listener of this.storeListeners) listener();
  }

  private setStatus(status: LiveStatus): void {
    if (this.status === status) return;
    this.status = status;
    this.notify();
  }

  private subscribe(room: LiveRoom): void {
    this.socket?.emit('subscribe', room, (reply) => {
      if (!reply.ok) console.warn(`live: could not join ${room}: ${reply.error ?? 'refused'}`);
    });
  }

  private open(): void {
    if (this.socket) return;
    const socket: LiveSocket = io(LIVE_NAMESPACE, {
      transports: ['websocket'],
      withCredentials: true,
      reconnectionDelay: 1_000,
      reconnectionDelayMax: 10_000,
    });
    this.socket = socket;
    this.setStatus('connecting');

    socket.on('connect', () => {
      this.setStatus('connected');
      for (const [room, count] of this.rooms)
        if (count > 0 || this.leaveTimers.has(room)) this.subscribe(room);
    });
    socket.on('disconnect', (reason) => {
      if (reason === 'io client disconnect') {
        this.setStatus('idle');
        return;
      }
      this.setStatus('reconnecting');
      // The server hung up on purpose (e.g. a restart): socket.io does not retry that by itself.
      if (reason === 'io server disconnect') this.retryLater();
    });
    socket.on('connect_error', (error) => {
      if (error.message === 'UNAUTHORIZED') {
        this.setStatus('unauthorized');
        redirectToLogin();
        return;
      }
      this.setStatus('reconnecting');
      // A refusal by the namespace (not a transport failure) is not retried automatically.
      if (!socket.active) this.retryLater();
    });

    for (const event of EVENTS) {
      socket.on(event, (payload: unknown) => this.dispatch(event, payload));
    }
  }

  private dispatch(event: LiveEvent, payload: unknown): void {
    this.lastEventAt = Date.now();
    this.latest.set(event, payload);
    if (event === 'node:status') {
      const change = payload as NodeStatusChange;
      const next = new Map(this.nodeStatuses);
      next.set(change.nodeId, change);
      this.nodeStatuses = next;
    }
    for (const handler of this.handlers.get(event) ?? []) {
      try {
        (handler as (p: unknown) => void)(payload);
      } catch (error) {
        console.error(`live: ${event} handler failed`, error);
      }
    }
    this.notify();
  }

  private retryLater(): void {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.socket && !this.socket.connected && this.status !== 'unauthorized') this.socket.connect();
    }, MANUAL_RETRY_MS);
  }

  private close(): void {
    this.closeTimer = null;
    if (this.users > 0 || !this.socket) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.socket.removeAllListeners();
    this.socket.disconnect();
    this.socket = null;
    this.latest.clear();
    this.nodeStatuses = new Map();
    this.setStatus('idle');
  }
}

let shared: LiveConnection | null = null;

function connection(): LiveConnection {
  shared ??= new LiveConnection();
  return shared;
}

const noopSubscribe = () => () => {};

/** Keeps the page's live connection open while mounted and returns its state. */
export function useLiveConnection(): LiveStatus {
  useEffect(() => connection().acquire(), []);
  return useSyncExternalStore(
    typeof window === 'undefined' ? noopSubscribe : connection().subscribeStore,
    () => connection().status,
    () => 'idle' as const,
  );
}

/**
 * Joins a live room (`fleet`, `node:<id>`, `deployment:<id>`) while mounted; `null` joins
 * nothing. Returns the connection state. Read what arrives with `useLiveValue` (latest
 * payload, re-renders) or `useLiveEvent` (every payload, no re-render).
 */
export function useLive(room: LiveRoom | null): LiveStatus {
  const status = useLiveConnection();
  useEffect(() => {
    if (!room) return;
    return connection().join(room);
  }, [room]);
  return status;
}

/** The latest payload of a live event on this page, or null before the first one. */
export function useLiveValue<E extends LiveEvent>(event: E): LivePayload<E> | null {
  return useSyncExternalStore(
    typeof window === 'undefined' ? noopSubscribe : connection().subscribeStore,
    () => connection().getLatest(event),
    () => null,
  );
}

/** Every `node:status` change seen on this page, latest per node. */
export function useNodeStatuses(): ReadonlyMap<string, NodeStatusChange> {
  return useSyncExternalStore(
    typeof window === 'undefined' ? noopSubscribe : connection().subscribeStore,
    () => connection().getNodeStatuses(),
    () => EMPTY_STATUSES,
  );
}
const EMPTY_STATUSES: ReadonlyMap<string, NodeStatusChange> = new Map();

/** Calls `handler` for every payload of `event`; the latest handler is used without re-subscribing. */
export function useLiveEvent<E extends LiveEvent>(
  event: E,
  handler: (payload: LivePayload<E>) => void,
): void {
  const ref = useRef(handler);
  useEffect(() => {
    ref.current = handler;
  });
  useEffect(() => connection().on(event, (payload) => ref.current(payload)), [event]);
}

/**
 * Joins several live rooms while mounted (e.g. the `node:<id>` rooms of a deployment's
 * GPUs). Frames of different rooms arrive as separate events: read them with `useLiveEvent`.
 */
export function useLiveRooms(rooms: readonly LiveRoom[]): LiveStatus {
  const status = useLiveConnection();
  const key = [...new Set(rooms)].sort().join(' ');
  useEffect(() => {
    if (!key) return;
    const leaves = key.split(' ').map((room) => connection().join(room as LiveRoom));
    return () => {
      for (const leave of leaves) leave();
    };
  }, [key]);
  return status;
}
