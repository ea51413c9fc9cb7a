// Why a rank could not join: Gloo's rendezvous errors (file or Redis store) turned into a sentence that
// names the address, the rank that did not come, or what to do about keys left by an earlier run.

/** Where the ranks meet, as parsed by group.ts: a directory (Gloo's file store) or a Redis server. */
export interface StoreAddress {
  store: 'file' | 'redis';
  path?: string;
  host?: string;
  port?: number;
}

/** What init knows when the join fails. */
export interface JoinFailure {
  rank: number;
  worldSize: number;
  runId: string;
  timeoutMs: number;
  /** The rendezvous as the user gave it (or as the defaults made it). */
  rendezvous: string;
  store: StoreAddress;
}

/** The rank whose key the rendezvous waited for ("run/3" or "run/rank_3"), or null. */
function rankOfKey(key: string): number | null {
  const m = /\/(?:rank_)?(\d+)$/.exec(key);
  return m === null ? null : Number(m[1]);
}

/**
 * The join error's explanation: the Gloo message kept at the end, led by what it means. Redis: a server
 * that cannot be reached (connection refused, unknown host, no answer within 2 s), one that stops
 * answering (timeoutMs per command), keys left by an earlier run with the same runId; both stores: a
 * rank that did not join within timeoutMs.
 */
export function explainJoinFailure(f: JoinFailure, gloo: string): string {
  const head = `distributed.init: rank ${f.rank} of ${f.worldSize} could not join at ${f.rendezvous} (run '${f.runId}')`;
  const raw = gloo.replace(/(\[[^\]]*\.cc:\d+\] )+/g, '');
  if (f.store.store === 'redis') {
    const at = `${f.store.host}:${f.store.port}`;
    const connect = /Connecting to Redis: (.*)/.exec(raw);
    if (connect !== null) {
      return `${head}: cannot reach the Redis server at ${at} (${connect[1]}; a connection attempt gives up after 2 s). ` +
        'Start redis-server there, or point the rendezvous (MASTER_ADDR / MASTER_PORT, MYELIN_RENDEZVOUS) at a running one';
    }
    const stale = /Key '(.*)' already set/.exec(raw);
    if (stale !== null) {
      const prefix = f.runId.replace(/'/g, "'\\''");
      return `${head}: the Redis server at ${at} still holds key '${stale[1]}' of an earlier run with runId '${f.runId}' ` +
        '(one that did not finish joining; a run that joins clears its keys). Give this run its own runId (MYELIN_RUN_ID), or delete the old keys: ' +
        `redis-cli -h ${f.store.host} -p ${f.store.port} --scan --pattern '${prefix}/*' | xargs -r redis-cli -h ${f.store.host} -p ${f.store.port} del`;
    }
    if (/Resource temporarily unavailable|timed out|Connection reset|Server closed|Broken pipe|Protocol error/i.test(raw) && !/Wait timeout/.test(raw)) {
      return `${head}: the Redis server at ${at} stopped answering or is not a Redis server (no reply within ${f.timeoutMs} ms): ${raw}`;
    }
  }
  const wait = /Wait timeout for key\(s\): (\S+)/.exec(raw);
  if (wait !== null) {
    const missing = rankOfKey(wait[1]);
    const who = missing !== null && missing !== f.rank ? `rank ${missing}` : 'another rank';
    return `${head}: ${who} did not join within timeoutMs ${f.timeoutMs} ms (every rank needs the same worldSize ${f.worldSize}, rendezvous and runId; ` +
      `waited for key '${wait[1]}'). Gloo: ${raw}`;
  }
  return `${head}: ${raw}`;
}
