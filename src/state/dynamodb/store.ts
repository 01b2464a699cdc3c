/**
 * The StateStore on DynamoDB: the store of AWS environments, and the one that lets several
 * control-plane replicas share one record. It keeps the same contract as the SQLite store
 * (test/state/contract.ts runs against both).
 *
 * Single-table layout (keys `pk`, `sk`; every read that a write depends on is strongly consistent):
 *
 * | item                | pk                          | sk                     |
 * | ------------------- | --------------------------- | ---------------------- |
 * | service             | `ENV#<env>`                 | `SVC#<name>`           |
 * | revision            | `REV#<env>#<service>`       | number, 10 digits      |
 * | operation           | `OP#<id>`                   | `OP`                   |
 * | operation index     | `OPS#<env>`                 | `<createdAt>#<id>`     |
 * | active-operation    | `ACTIVE#<env>#<service>`    | `ACTIVE`               |
 * | latest operation    | `LATEST#<env>`              | `<service>`            |
 * | resource            | `RES#<env>`                 | `<service>#<kind>#<providerId>` |
 * | event / audit       | `EVENTS#<env>` / `AUDIT#<env>` | seq / id, 15 digits |
 * | seq counters        | `SEQ#events` / `SEQ#audit`  | `SEQ`                  |
 * | operations marker   | `CHANGES#<env>`             | `CHANGES`              |
 * | lease               | `LEASE#<name>`              | `LEASE`                |
 *
 * How the guarantees are kept without a lock:
 * - versions and fencing tokens are conditional writes (`ConditionExpression`);
 * - "one active operation per service" is the active-operation item, written with
 *   `attribute_not_exists` in the same TransactWriteItems as the operation, and deleted in the
 *   same transaction as the save that finishes it;
 * - the latest-operation item names each service's newest operation (written with it), so that
 *   the reconciler's sweep reads every service's in one query (readEnvironment);
 * - the operations marker of an environment is advanced after every operation starts or finishes
 *   (after its transaction, not in it: concurrent transactions on one item would conflict), so a
 *   sweep that finds it unchanged skips that query and the listing of the newest operations;
 * - event and audit numbers come from a counter advanced by compare-and-swap in the same
 *   transaction as the item, so numbers are gapless and an item is visible no later than every
 *   smaller number: a reader resuming `afterSeq` never skips one that appears later.
 */
import {
  ConditionalCheckFailedException,
  TransactionCanceledException,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
  UpdateCommand,
  type QueryCommandInput,
  type ScanCommandInput,
} from '@aws-sdk/lib-dynamodb';

import { UserError } from '../../core/errors.js';
import { isoTime, systemClock, type Clock } from '../../core/clock.js';
import type { ServiceSpec } from '../../spec/types.js';
import type { AwsConnection } from '../../providers/aws/clients.js';
import {
  ActiveOperationError,
  type AuditQuery,
  type AuditRecord,
  type EventQuery,
  type EventRecord,
  type LeaseRecord,
  type NewAudit,
  type NewEvent,
  type OperationRecord,
  type OperationStatus,
  type ResourceKind,
  type ResourceRecord,
  type RevisionRecord,
  type ServiceRecord,
  type ServiceSweepState,
  type StateStore,
  type StepRecord,
} from '../store.js';
import { checkServiceVersionForDelete, operationExists, serviceConflict } from '../shared/errors.js';
import { acquiredLease } from '../shared/leases.js';
import { normalizeLimit, normalizeTimeBounds } from '../shared/normalize.js';
import { checkNotFenced, claimedOperation, isTerminal, savedOperationFields } from '../shared/operations.js';
import {
  newAudit,
  newEvent,
  newOperation,
  newRevision,
  serviceFields,
  type NewOperation,
} from '../shared/records.js';
import { assembleSweepStates } from '../shared/sweep.js';
import { createDynamoClient, tableExists } from './table.js';

export interface DynamoStateStoreOptions {
  table: string;
  connection: AwsConnection;
  /** Source of the store's own timestamps. */
  clock?: Clock;
}

type Item = Record<string, unknown>;
type Key = { pk: string; sk: string };

/** A log whose items are numbered in order by a counter (see appendNumbered). */
interface NumberedLog {
  /** The counter item is `SEQ#<counter>`. */
  counter: string;
  /** Items are `<partition>#<env>`, numbered (15 digits) in the sort key. */
  partition: string;
  itemType: string;
  /** The record field that holds the number. */
  numberField: 'seq' | 'id';
}

const EVENTS: NumberedLog = { counter: 'events', partition: 'EVENTS', itemType: 'event', numberField: 'seq' };
const AUDIT: NumberedLog = { counter: 'audit', partition: 'AUDIT', itemType: 'audit', numberField: 'id' };

/** TransactWriteItems takes at most 100 actions. */
const TRANSACT_LIMIT = 100;

/** How often readEnvironment reads every service record of an environment, not only changed ones. */
const FULL_READ_MS = 5 * 60_000;

/** What readEnvironment read of one environment, to read only what changed next time. */
interface EnvironmentRead {
  fullAt: number;
  /** The operations marker read before the latest-operation items (0: none yet). */
  marker: number;
  /** The latest-operation items then: by service, operation id and `id|status`. */
  latestIds: Map<string, string>;
  latestKeys: Map<string, string>;
  /** By service, those read since the last full read (and those it found no active record of). */
  seen: Map<string, SeenService>;
}

interface SeenService {
  /** The service's latest-operation item then (operation id and status), if any. */
  latestKey: string | null;
  /** What readEnvironment returned of it; null when it had no active record. */
  state: ServiceSweepState | null;
}

/** BatchGetItem takes at most 100 keys. */
const BATCH_GET_LIMIT = 100;

/** Batch reads of one bulk read in flight at once. */
const BATCH_GET_CONCURRENCY = 4;

/**
 * Revisions and finished operations never change once written, so the sweep keeps the ones it
 * read and reads each only once per process; this many of each at most (the oldest used go).
 */
const IMMUTABLE_CACHE_SIZE = 20_000;

export class DynamoStateStore implements StateStore {
  private readonly revisionCache = new LruCache<RevisionRecord>(IMMUTABLE_CACHE_SIZE);
  private readonly finishedCache = new LruCache<OperationRecord>(IMMUTABLE_CACHE_SIZE);
  /** What the last readEnvironment of each environment read (see there). */
  private readonly sweeps = new Map<string, EnvironmentRead>();
  /**
   * The value each numbered log's counter had after this store's last append: the next append
   * guesses it unchanged and skips reading it (a deploy appends some twenty events in a row). A
   * guess another writer made stale fails the transaction's condition and is read again.
   */
  private readonly counters = new Map<string, number>();
  /** The last listing of each environment's newest operations (listOperations without a service). */
  private readonly newest = new Map<string, { marker: number; max: number; ids: string[] }>();

  private constructor(
    private readonly raw: DynamoDBClient,
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly clock: Clock,
  ) {}

  /** Opens the store on an existing table (`berth env init` creates it). */
  static async open(options: DynamoStateStoreOptions): Promise<DynamoStateStore> {
    const raw = createDynamoClient(options.connection);
    if (!(await tableExists(raw, options.table))) {
      raw.destroy();
      throw new UserError(`the DynamoDB state table ${options.table} does not exist`, {
        hint: 'create it (and the other shared pieces) with: berth env init <env>',
      });
    }
    const doc = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
    return new DynamoStateStore(raw, doc, options.table, options.clock ?? systemClock);
  }

  // services

  async getService(env: string, name: string): Promise<ServiceRecord | null> {
    const item = await this.get(serviceKey(env, name));
    return item ? toService(item) : null;
  }

  async listServices(env: string): Promise<ServiceRecord[]> {
    const items = await this.query({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :svc)',
      ExpressionAttributeValues: { ':pk': `ENV#${env}`, ':svc': 'SVC#' },
    });
    return items.map(toService).filter((service) => service.status === 'active');
  }

  /**
   * What it reads depends on what it read before (kept per environment in this store object):
   * - the latest-operation items of the environment, one query (about 100 bytes a service): each
   *   names the service's newest operation and its status, and changes whenever an operation
   *   starts or finishes, which is when berth changes a service's record;
   * - the service records (the environment's partition) in full the first time and every
   *   FULL_READ_MS (records written outside an operation, or by an older berth that kept no
   *   latest-operation item, are seen by then); in between, batch reads of only the services
   *   whose newest operation changed or is still running;
   * - revisions and finished operations only once (they never change), running ones every time.
   */
  async readEnvironment(env: string): Promise<ServiceSweepState[]> {
    const previous = this.sweeps.get(env);
    const now = this.clock.now();
    const full = !previous || now - previous.fullAt >= FULL_READ_MS;
    // Read before the items: an operation that starts or finishes after this read advances the
    // marker after its own write, so the next sweep sees a new value and queries again.
    const marker = await this.operationsMarker(env);
    let latestKeys = new Map<string, string>();
    let latestIds = new Map<string, string>();
    if (!full && marker !== 0 && previous.marker === marker) {
      // No operation started or finished since: the items are those read last time.
      latestKeys = previous.latestKeys;
      latestIds = previous.latestIds;
    } else {
      const latestItems = await this.query({
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': latestPartition(env) },
      });
      for (const item of latestItems) {
        latestIds.set(String(item.sk), String(item.operationId));
        latestKeys.set(String(item.sk), `${String(item.operationId)}|${String(item.status ?? '')}`);
      }
    }

    const seen = new Map<string, SeenService>();
    let records: ServiceRecord[];
    if (full) {
      records = (
        await this.query({
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :svc)',
          ExpressionAttributeValues: { ':pk': `ENV#${env}`, ':svc': 'SVC#' },
        })
      ).map(toService);
    } else {
      const again: string[] = [];
      for (const service of new Set([...previous.seen.keys(), ...latestKeys.keys()])) {
        const known = previous.seen.get(service);
        const latest = known?.state?.latestOperation;
        // Unchanged: the same newest operation, finished then and now (or none, or no record).
        if (
          known &&
          known.latestKey === (latestKeys.get(service) ?? null) &&
          (!latest || isTerminal(latest.status))
        )
          seen.set(service, known);
        else again.push(service);
      }
      const reread = await this.cachedBatchGet(
        null,
        again.map((service) => serviceKey(env, service)),
        toService,
        () => false,
      );
      records = again.flatMap((service) => {
        const record = reread.get(keyString(serviceKey(env, service)));
        if (!record) seen.set(service, { latestKey: latestKeys.get(service) ?? null, state: null });
        return record ? [record] : [];
      });
    }
    for (const record of records.filter((r) => r.status !== 'active')) {
      seen.set(record.name, { latestKey: latestKeys.get(record.name) ?? null, state: null });
    }
    const services = records.filter((record) => record.status === 'active');

    const revisions = await this.cachedBatchGet(
      this.revisionCache,
      services
        .filter((service) => service.currentRevision !== null)
        .map((service) => ({ pk: `REV#${env}#${service.name}`, sk: pad(service.currentRevision!, 10) })),
      toRevision,
      () => true,
    );
    const operations = await this.cachedBatchGet(
      this.finishedCache,
      services.filter((s) => latestIds.has(s.name)).map((s) => operationKey(latestIds.get(s.name)!)),
      toOperation,
      (op) => isTerminal(op.status) && op.finishedAt !== null,
    );
    const latest: OperationRecord[] = [];
    const missing: ServiceRecord[] = [];
    for (const service of services) {
      const id = latestIds.get(service.name);
      const operation = id === undefined ? undefined : operations.get(keyString(operationKey(id)));
      if (operation) latest.push(operation);
      else missing.push(service);
    }
    // Services whose operations predate the latest-operation item: read as before, once, and
    // record it (only where there still is none: a newer operation's own item wins).
    await forEachLimited(missing, BATCH_GET_CONCURRENCY, async (service) => {
      const [operation] = await this.listOperations(env, service.name, 1);
      if (!operation) return;
      latest.push(operation);
      // As the item below records it (a sweep that skips the query keeps these).
      latestIds.set(service.name, operation.id);
      latestKeys.set(service.name, `${operation.id}|${operation.status}`);
      await this.doc
        .send(
          new PutCommand({
            TableName: this.table,
            Item: latestItem(operation),
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        )
        .catch((error: unknown) => {
          if (!(error instanceof ConditionalCheckFailedException)) throw error;
        });
    });
    // berth creates every operation pending, one active at a time per service: an active
    // operation is its service's newest.
    const fresh = assembleSweepStates(
      services,
      [...revisions.values()],
      latest,
      latest.filter((op) => !isTerminal(op.status)),
    );
    for (const state of fresh) {
      seen.set(state.record.name, { latestKey: latestKeys.get(state.record.name) ?? null, state });
    }
    this.sweeps.set(env, { fullAt: full ? now : previous.fullAt, seen, marker, latestIds, latestKeys });
    return [...seen.values()]
      .flatMap(({ state }) => (state ? [state] : []))
      .sort((a, b) => (a.record.name < b.record.name ? -1 : a.record.name > b.record.name ? 1 : 0));
  }

  async putService(
    record: Omit<ServiceRecord, 'version'>,
    expectedVersion: number | null,
  ): Promise<ServiceRecord> {
    const version = (expectedVersion ?? 0) + 1;
    const stored: ServiceRecord = { ...serviceFields(record), version };
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...serviceKey(record.env, record.name), itemType: 'service', ...stored },
          ...storedValueIs('version', expectedVersion),
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const actual = (await this.getService(record.env, record.name))?.version ?? null;
      throw serviceConflict(record.env, record.name, expectedVersion, actual);
    }
    return stored;
  }

  async deleteService(env: string, name: string, expectedVersion: number): Promise<void> {
    const resources = await this.listResources(env, name);
    const first = resources.slice(0, TRANSACT_LIMIT - 1);
    try {
      // One transaction: nobody sees inventory of a service that no longer exists.
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Delete: {
                TableName: this.table,
                Key: serviceKey(env, name),
                ...storedValueIs('version', expectedVersion),
              },
            },
            ...first.map((resource) => ({
              Delete: { TableName: this.table, Key: resourceKey(resource) },
            })),
          ],
        }),
      );
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const actual = (await this.getService(env, name))?.version ?? null;
      checkServiceVersionForDelete(env, name, expectedVersion, actual);
      throw error;
    }
    // More than a transaction holds (a service with 100+ resources): the rest go right after.
    await this.batchDelete(resources.slice(first.length).map(resourceKey));
  }

  // revisions

  async addRevision(input: Omit<RevisionRecord, 'number' | 'createdAt'>): Promise<RevisionRecord> {
    const pk = `REV#${input.env}#${input.service}`;
    // Someone else took the number: read the newest again and take the next.
    return retryLostRaces(ConditionalCheckFailedException, 100, true, async () => {
      const [latest] = await this.query({
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': pk },
        ScanIndexForward: false,
        Limit: 1,
      });
      const revision = newRevision(input, ((latest?.number as number | undefined) ?? 0) + 1, this.nowIso());
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            pk,
            sk: pad(revision.number, 10),
            itemType: 'revision',
            ...revision,
            spec: JSON.stringify(revision.spec),
            origin: JSON.stringify(revision.origin),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return revision;
    });
  }

  async getRevision(env: string, service: string, number: number): Promise<RevisionRecord | null> {
    const item = await this.get({ pk: `REV#${env}#${service}`, sk: pad(number, 10) });
    return item ? toRevision(item) : null;
  }

  async listRevisions(env: string, service: string): Promise<RevisionRecord[]> {
    const items = await this.query({
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `REV#${env}#${service}` },
      ScanIndexForward: false,
    });
    return items.map(toRevision);
  }

  // operations

  async createOperation(input: NewOperation): Promise<OperationRecord> {
    const record = newOperation(input, this.nowIso());
    const active = !isTerminal(record.status);
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: operationItem(record),
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Put: {
                TableName: this.table,
                Item: {
                  pk: `OPS#${record.env}`,
                  sk: `${record.createdAt}#${record.id}`,
                  itemType: 'operation-index',
                  id: record.id,
                  service: record.service,
                },
              },
            },
            { Put: { TableName: this.table, Item: latestItem(record) } },
            ...(active
              ? [
                  {
                    Put: {
                      TableName: this.table,
                      Item: {
                        ...activeKey(record.env, record.service),
                        itemType: 'active-operation',
                        operationId: record.id,
                      },
                      ConditionExpression: 'attribute_not_exists(pk)',
                    },
                  },
                ]
              : []),
          ],
        }),
      );
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      if (await this.get(operationKey(record.id))) throw operationExists(record.id);
      const current = await this.getActiveOperation(record.env, record.service);
      if (current) throw new ActiveOperationError(current);
      throw error;
    }
    await this.advanceOperationsMarker(record.env);
    return record;
  }

  async getOperation(id: string): Promise<OperationRecord | null> {
    const item = await this.get(operationKey(id));
    return item ? toOperation(item) : null;
  }

  async getActiveOperation(env: string, service: string): Promise<OperationRecord | null> {
    const marker = await this.get(activeKey(env, service));
    if (!marker) return null;
    const operation = await this.getOperation(String(marker.operationId));
    return operation && !isTerminal(operation.status) ? operation : null;
  }

  async listOperations(env: string, service?: string, limit?: number): Promise<OperationRecord[]> {
    const max = maxCount(limit);
    if (max === 0) return [];
    let marker = 0;
    if (service === undefined && Number.isFinite(max)) {
      // The newest operations of an environment change only when one is created, which advances
      // the marker after its write: while it holds still, the same operations are read by key
      // (one batch read instead of a query of the environment's operation index).
      marker = await this.operationsMarker(env);
      const last = this.newest.get(env);
      if (marker !== 0 && last && last.marker === marker && last.max === max) {
        const again = await this.operationsById(last.ids);
        if (again.length === last.ids.length) return again;
      }
    }
    const index = await this.query(
      {
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: {
          ':pk': `OPS#${env}`,
          ...(service === undefined ? {} : { ':service': service }),
        },
        ...(service === undefined
          ? {}
          : { FilterExpression: '#service = :service', ExpressionAttributeNames: { '#service': 'service' } }),
        ScanIndexForward: false,
        // Without a filter the first `max` items are the answer: one page of that many.
        ...(service === undefined && Number.isFinite(max) ? { Limit: max } : {}),
      },
      max,
    );
    const ids = index.slice(0, max).map((item) => String(item.id));
    if (service === undefined && Number.isFinite(max)) this.newest.set(env, { marker, max, ids });
    return this.operationsById(ids);
  }

  /** Operations by id, in that order (those that no longer exist left out). */
  private async operationsById(ids: string[]): Promise<OperationRecord[]> {
    const byId = new Map<string, OperationRecord>();
    for (let i = 0; i < ids.length; i += 100) {
      let keys: Item[] | undefined = ids.slice(i, i + 100).map(operationKey);
      while (keys && keys.length > 0) {
        const out = await this.doc.send(
          new BatchGetCommand({ RequestItems: { [this.table]: { Keys: keys, ConsistentRead: true } } }),
        );
        for (const item of out.Responses?.[this.table] ?? []) {
          const operation = toOperation(item);
          byId.set(operation.id, operation);
        }
        keys = out.UnprocessedKeys?.[this.table]?.Keys as Item[] | undefined;
      }
    }
    return ids.map((id) => byId.get(id)).filter((op): op is OperationRecord => op !== undefined);
  }

  async claimOperation(
    id: string,
    owner: string,
    leaseMs: number,
    nowMs: number,
  ): Promise<OperationRecord | null> {
    // A lost race (someone claimed or saved in between): decide again on what is stored now.
    return retryLostRaces(ConditionalCheckFailedException, 20, false, async () => {
      const current = await this.getOperation(id);
      const claimed = current && claimedOperation(current, owner, leaseMs, nowMs);
      if (!current || !claimed) return null;
      const set = setExpression({
        status: claimed.status,
        startedAt: claimed.startedAt,
        leaseOwner: claimed.leaseOwner,
        leaseExpiresAt: claimed.leaseExpiresAt,
        fencingToken: claimed.fencingToken,
      });
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: operationKey(id),
          // The token we read must still be the latest, and the operation still unfinished:
          // of several concurrent claims exactly one passes this condition.
          ConditionExpression: '#c_token = :c_token AND #c_status IN (:c_pending, :c_running)',
          UpdateExpression: set.expression,
          ExpressionAttributeNames: { ...set.names, '#c_token': 'fencingToken', '#c_status': 'status' },
          ExpressionAttributeValues: {
            ...set.values,
            ':c_token': current.fencingToken,
            ':c_pending': 'pending',
            ':c_running': 'running',
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toOperation(out.Attributes!);
    });
  }

  async saveOperation(record: OperationRecord, leaseMs: number, nowMs: number): Promise<void> {
    const set = setExpression(savedOperationFields(record, leaseMs, nowMs));
    const update = {
      TableName: this.table,
      Key: operationKey(record.id),
      ConditionExpression: 'attribute_exists(pk) AND #c_token = :c_token',
      // cancelRequested is deliberately not written: a concurrent cancel must survive the save.
      UpdateExpression: set.expression,
      ExpressionAttributeNames: { ...set.names, '#c_token': 'fencingToken' },
      ExpressionAttributeValues: { ...set.values, ':c_token': record.fencingToken },
    };
    try {
      if (!isTerminal(record.status)) {
        await this.doc.send(new UpdateCommand(update));
        return;
      }
      // Finishing frees the service for its next operation, in the same transaction.
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            { Update: update },
            {
              Delete: {
                TableName: this.table,
                Key: activeKey(record.env, record.service),
                ConditionExpression: 'attribute_not_exists(pk) OR operationId = :id',
                ExpressionAttributeValues: { ':id': record.id },
              },
            },
            // Still the service's newest (it was active: nothing newer could start meanwhile).
            { Put: { TableName: this.table, Item: latestItem(record) } },
          ],
        }),
      );
      await this.advanceOperationsMarker(record.env);
    } catch (error) {
      if (!(
        error instanceof ConditionalCheckFailedException || error instanceof TransactionCanceledException
      )) {
        throw error;
      }
      checkNotFenced(record, await this.getOperation(record.id));
      throw error;
    }
  }

  async requestCancel(id: string): Promise<OperationRecord | null> {
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: operationKey(id),
          ConditionExpression: 'attribute_exists(pk) AND #status IN (:pending, :running)',
          UpdateExpression: 'SET #cancel = :yes',
          ExpressionAttributeNames: { '#status': 'status', '#cancel': 'cancelRequested' },
          ExpressionAttributeValues: { ':pending': 'pending', ':running': 'running', ':yes': true },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toOperation(out.Attributes!);
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return this.getOperation(id);
    }
  }

  // inventory

  async putResource(record: Omit<ResourceRecord, 'createdAt' | 'updatedAt'>): Promise<void> {
    const now = this.nowIso();
    const set = setExpression({
      itemType: 'resource',
      env: record.env,
      service: record.service,
      kind: record.kind,
      providerId: record.providerId,
      generation: record.generation,
      attributes: JSON.stringify(record.attributes),
      updatedAt: now,
    });
    // One UpdateItem is atomic on its own; createdAt survives updates.
    await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: resourceKey(record),
        UpdateExpression: `${set.expression}, #createdAt = if_not_exists(#createdAt, :now)`,
        ExpressionAttributeNames: { ...set.names, '#createdAt': 'createdAt' },
        ExpressionAttributeValues: { ...set.values, ':now': now },
      }),
    );
  }

  async deleteResource(env: string, service: string, kind: ResourceKind, providerId: string): Promise<void> {
    await this.doc.send(
      new DeleteCommand({ TableName: this.table, Key: resourceKey({ env, service, kind, providerId }) }),
    );
  }

  async listResources(env: string, service?: string): Promise<ResourceRecord[]> {
    const items = await this.query({
      KeyConditionExpression: service === undefined ? 'pk = :pk' : 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: {
        ':pk': `RES#${env}`,
        ...(service === undefined ? {} : { ':prefix': `${service}#` }),
      },
    });
    return items.map(toResource);
  }

  // events and audit

  async appendEvent(event: NewEvent): Promise<EventRecord> {
    const base = newEvent(event, () => this.nowIso());
    const seq = await this.appendNumbered(EVENTS, base.env, {
      ...base,
      eventType: base.type,
      type: undefined,
      data: base.data === null ? null : JSON.stringify(base.data),
    });
    return { seq, ...base };
  }

  async listEvents(query: EventQuery): Promise<EventRecord[]> {
    const max = maxCount(query.limit);
    if (max === 0) return [];
    const { env, service, operationId, afterSeq, since, until } = normalizeTimeBounds(query);
    const filter = new Filter()
      .add('service', '=', service)
      .add('operationId', '=', operationId)
      .add('time', '>=', since)
      .add('time', '<=', until);
    const items = await this.listNumbered(EVENTS, env, filter, afterSeq, max, query.newest === true);
    return items.map(toEvent);
  }

  async appendAudit(entry: NewAudit): Promise<AuditRecord> {
    const base = newAudit(entry, () => this.nowIso());
    const id = await this.appendNumbered(AUDIT, base.env, { ...base, args: JSON.stringify(base.args) });
    return { id, ...base };
  }

  async listAudit(query: AuditQuery): Promise<AuditRecord[]> {
    const max = maxCount(query.limit);
    if (max === 0) return [];
    const { env, since, until } = normalizeTimeBounds(query);
    const filter = new Filter().add('time', '>=', since).add('time', '<=', until);
    const items = await this.listNumbered(AUDIT, env, filter, undefined, max);
    return items.map(toAudit);
  }

  // leases

  async acquireLease(name: string, owner: string, ttlMs: number, nowMs: number): Promise<LeaseRecord | null> {
    return retryLostRaces(ConditionalCheckFailedException, 20, false, async () => {
      const item = await this.get(leaseKey(name));
      const lease = acquiredLease(item ? toLease(item) : null, name, owner, ttlMs, nowMs);
      if (!lease) return null;
      // Every write bumps `revision`: what we decided on must still be what is stored, so that
      // one of concurrent writers wins.
      const revision = item ? Number(item.revision ?? 0) : null;
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...leaseKey(name), itemType: 'lease', ...lease, revision: (revision ?? 0) + 1 },
          ...storedValueIs('revision', revision),
        }),
      );
      return lease;
    });
  }

  async releaseLease(name: string, owner: string): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: leaseKey(name),
          ConditionExpression: '#owner = :owner',
          UpdateExpression: 'SET #owner = :none, #expiresAt = :none ADD #revision :one',
          ExpressionAttributeNames: { '#owner': 'owner', '#expiresAt': 'expiresAt', '#revision': 'revision' },
          ExpressionAttributeValues: { ':owner': owner, ':none': null, ':one': 1 },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async getLease(name: string): Promise<LeaseRecord | null> {
    const item = await this.get(leaseKey(name));
    return item ? toLease(item) : null;
  }

  async close(): Promise<void> {
    this.doc.destroy();
    this.raw.destroy();
  }

  // helpers

  private nowIso(): string {
    return isoTime(this.clock.now());
  }

  /** The environment's operations marker (0 when no operation has advanced it yet). */
  private async operationsMarker(env: string): Promise<number> {
    return Number((await this.get(operationsMarkerKey(env)))?.value ?? 0);
  }

  /**
   * Advances the marker after an operation started or finished. Its failure is not the
   * operation's: readers that miss the change see it at their next full read (FULL_READ_MS).
   */
  private async advanceOperationsMarker(env: string): Promise<void> {
    await this.doc
      .send(
        new UpdateCommand({
          TableName: this.table,
          Key: operationsMarkerKey(env),
          UpdateExpression: 'SET itemType = :type ADD #value :one',
          ExpressionAttributeNames: { '#value': 'value' },
          ExpressionAttributeValues: { ':type': 'operations-marker', ':one': 1 },
        }),
      )
      .catch(() => undefined);
  }

  private async get(key: Key): Promise<Item | null> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: key, ConsistentRead: true }),
    );
    return (out.Item as Item | undefined) ?? null;
  }

  /**
   * The records at `keys` (by `keyString`), from `cache` where it has them, else by consistent
   * BatchGetItem (100 keys a call, a few calls at once); those `keep` accepts are cached.
   */
  private async cachedBatchGet<T>(
    cache: LruCache<T> | null,
    keys: Key[],
    convert: (item: Item) => T,
    keep: (record: T) => boolean,
  ): Promise<Map<string, T>> {
    const found = new Map<string, T>();
    const missing: Key[] = [];
    for (const key of keys) {
      const cached = cache?.get(keyString(key));
      if (cached) found.set(keyString(key), cached);
      else missing.push(key);
    }
    const batches: Key[][] = [];
    for (let i = 0; i < missing.length; i += BATCH_GET_LIMIT)
      batches.push(missing.slice(i, i + BATCH_GET_LIMIT));
    await forEachLimited(batches, BATCH_GET_CONCURRENCY, async (batch) => {
      let pending: Item[] | undefined = batch;
      while (pending && pending.length > 0) {
        const out = await this.doc.send(
          new BatchGetCommand({ RequestItems: { [this.table]: { Keys: pending, ConsistentRead: true } } }),
        );
        for (const item of out.Responses?.[this.table] ?? []) {
          const record = convert(item);
          const key = keyString({ pk: String(item.pk), sk: String(item.sk) });
          found.set(key, record);
          if (keep(record)) cache?.set(key, record);
        }
        pending = out.UnprocessedKeys?.[this.table]?.Keys as Item[] | undefined;
      }
    });
    return found;
  }

  /** Every item a query matches (all pages, consistent), or the first `max` of them. */
  private async query(input: Omit<QueryCommandInput, 'TableName'>, max = Infinity): Promise<Item[]> {
    return allPages(
      (start) =>
        this.doc.send(
          new QueryCommand({
            ...input,
            TableName: this.table,
            ConsistentRead: true,
            ExclusiveStartKey: start,
          }),
        ),
      // A `Limit` in the input means "one page": the caller asked for that many at most.
      (count) => count < max && input.Limit === undefined,
    );
  }

  /** Every item of `itemType` that `filter` passes, across the whole table (all pages, consistent). */
  private async scan(itemType: string, filter: Filter): Promise<Item[]> {
    const input: ScanCommandInput = {
      TableName: this.table,
      ConsistentRead: true,
      FilterExpression: ['#itemType = :itemType', ...filter.conditions].join(' AND '),
      ExpressionAttributeNames: { ...filter.names, '#itemType': 'itemType' },
      ExpressionAttributeValues: { ...filter.values, ':itemType': itemType },
    };
    return allPages((start) => this.doc.send(new ScanCommand({ ...input, ExclusiveStartKey: start })));
  }

  /**
   * Writes `fields` as the item numbered next in `log`: reads the log's counter (or takes the
   * value this store last wrote to it), then in one transaction advances it by compare-and-swap
   * and puts the item. A writer that lost the race (or guessed a stale value) reads again and
   * takes the next number. Returns the number.
   */
  private async appendNumbered(log: NumberedLog, env: string, fields: Item): Promise<number> {
    const key: Key = { pk: `SEQ#${log.counter}`, sk: 'SEQ' };
    let guess = this.counters.get(log.counter);
    return retryLostRaces(TransactionCanceledException, 200, true, async () => {
      const current = guess ?? Number((await this.get(key))?.value ?? 0);
      guess = undefined;
      this.counters.delete(log.counter);
      const next = current + 1;
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: { ...key, itemType: 'counter', value: next },
                ...storedValueIs('value', current === 0 ? null : current),
              },
            },
            {
              Put: {
                TableName: this.table,
                Item: {
                  ...numberedKey(log, env, next),
                  itemType: log.itemType,
                  [log.numberField]: next,
                  ...fields,
                },
              },
            },
          ],
        }),
      );
      this.counters.set(log.counter, next);
      return next;
    });
  }

  /**
   * The items of `log` that `filter` passes, numbered above `after` when given, ascending, the
   * first `max` of them (`newest`: the last `max`): a query of the environment's partition (read
   * backwards for the newest, so only those pages are read), or, for every environment, a scan
   * (rare: timelines over every environment; `after` is then added to `filter`).
   */
  private async listNumbered(
    log: NumberedLog,
    env: string | undefined,
    filter: Filter,
    after: number | undefined,
    max: number,
    newest = false,
  ): Promise<Item[]> {
    const fromEnd = newest && max !== Infinity;
    if (env !== undefined) {
      const items = await this.query(
        {
          ...(fromEnd ? { ScanIndexForward: false } : {}),
          KeyConditionExpression: after !== undefined ? 'pk = :pk AND sk > :after' : 'pk = :pk',
          ...filter.forQuery(),
          ExpressionAttributeValues: {
            ...filter.values,
            ':pk': numberedPartition(log, env),
            ...(after !== undefined
              ? { ':after': numberedKey(log, env, Math.max(0, Math.floor(after))).sk }
              : {}),
          },
        },
        max,
      );
      return fromEnd ? items.slice(0, max).reverse() : items.slice(0, max);
    }
    if (after !== undefined) filter.add(log.numberField, '>', after);
    const items = await this.scan(log.itemType, filter);
    const number = (item: Item) => Number(item[log.numberField]);
    const sorted = items.sort((a, b) => number(a) - number(b));
    return fromEnd ? sorted.slice(Math.max(0, sorted.length - max)) : sorted.slice(0, max);
  }

  private async batchDelete(keys: Item[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 25) {
      let requests = keys.slice(i, i + 25).map((Key) => ({ DeleteRequest: { Key } }));
      while (requests.length > 0) {
        const out = await this.doc.send(new BatchWriteCommand({ RequestItems: { [this.table]: requests } }));
        requests = (out.UnprocessedItems?.[this.table] ?? []) as typeof requests;
      }
    }
  }
}

/** `SET #a = :a, #b = :b` with every name aliased (many plain words are reserved in DynamoDB). */
function setExpression(fields: Record<string, unknown>) {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const parts = Object.entries(fields).map(([field, value]) => {
    names[`#${field}`] = field;
    values[`:${field}`] = value;
    return `#${field} = :${field}`;
  });
  return { expression: `SET ${parts.join(', ')}`, names, values };
}

/**
 * A condition that the stored item's `field` is `expected`, or, for null, that there is no item:
 * the compare-and-swap of a read-decide-write.
 */
function storedValueIs(field: string, expected: number | null) {
  if (expected === null) return { ConditionExpression: 'attribute_not_exists(pk)' };
  return {
    ConditionExpression: '#expected = :expected',
    ExpressionAttributeNames: { '#expected': field },
    ExpressionAttributeValues: { ':expected': expected },
  };
}

/** A FilterExpression of ANDed `#field op :value` conditions; an undefined value adds none. */
class Filter {
  readonly conditions: string[] = [];
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};

  add(field: string, op: '=' | '>' | '>=' | '<=', value: unknown): this {
    if (value === undefined) return this;
    const placeholder = `:filter${this.conditions.length}`;
    this.names[`#${field}`] = field;
    this.values[placeholder] = value;
    this.conditions.push(`#${field} ${op} ${placeholder}`);
    return this;
  }

  /**
   * The FilterExpression and its names for a query (nothing when there is no condition); the
   * caller merges `values` into its own ExpressionAttributeValues.
   */
  forQuery() {
    if (this.conditions.length === 0) return {};
    return { FilterExpression: this.conditions.join(' AND '), ExpressionAttributeNames: this.names };
  }
}

/** Reads pages (`page(start)`) while there is a next one and `more(items so far)` says to go on. */
async function allPages(
  page: (start: Item | undefined) => Promise<{ Items?: Item[]; LastEvaluatedKey?: Item }>,
  more: (count: number) => boolean = () => true,
): Promise<Item[]> {
  const items: Item[] = [];
  let start: Item | undefined;
  do {
    const out = await page(start);
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start && more(items.length));
  return items;
}

/**
 * Runs `attempt` again when it fails with a `lost` error (a conditional write another writer beat
 * it to: read and decide again), at most `retries` times, each after a short random pause when
 * `pause`. Other errors, and a race lost once more than that, are thrown.
 */
async function retryLostRaces<T>(
  lost: abstract new (...args: never[]) => Error,
  retries: number,
  pause: boolean,
  attempt: () => Promise<T>,
): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof lost) || n >= retries) throw error;
      if (pause) await jitter(n);
    }
  }
}

async function jitter(attempt: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(100, 5 * (attempt + 1))));
}

/** Runs `work` on every item, at most `width` at a time. */
async function forEachLimited<T>(items: T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

/** A map that keeps at most `size` entries, dropping the least recently used. */
class LruCache<T> {
  private readonly entries = new Map<string, T>();

  constructor(private readonly size: number) {}

  get(key: string): T | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  set(key: string, value: T): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.size) this.entries.delete(this.entries.keys().next().value!);
  }
}

/** The number limit of a listing: normalizeLimit, or no limit at all. */
function maxCount(limit: number | undefined): number {
  return limit === undefined ? Infinity : normalizeLimit(limit);
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function serviceKey(env: string, name: string): Key {
  return { pk: `ENV#${env}`, sk: `SVC#${name}` };
}

function operationKey(id: string): Key {
  return { pk: `OP#${id}`, sk: 'OP' };
}

function activeKey(env: string, service: string): Key {
  return { pk: `ACTIVE#${env}#${service}`, sk: 'ACTIVE' };
}

function operationsMarkerKey(env: string): Key {
  return { pk: `CHANGES#${env}`, sk: 'CHANGES' };
}

function latestPartition(env: string): string {
  return `LATEST#${env}`;
}

/**
 * The latest-operation item of `record`'s service: which operation is its newest, and its status
 * (written when it is created and when it finishes, in the same transaction).
 */
function latestItem(record: OperationRecord): Item {
  return {
    pk: latestPartition(record.env),
    sk: record.service,
    itemType: 'latest-operation',
    operationId: record.id,
    status: record.status,
  };
}

function keyString(key: Key): string {
  return `${key.pk}|${key.sk}`;
}

function leaseKey(name: string): Key {
  return { pk: `LEASE#${name}`, sk: 'LEASE' };
}

function numberedPartition(log: NumberedLog, env: string): string {
  return `${log.partition}#${env}`;
}

function numberedKey(log: NumberedLog, env: string, n: number): Key {
  return { pk: numberedPartition(log, env), sk: pad(n, 15) };
}

function resourceKey(record: { env: string; service: string; kind: ResourceKind; providerId: string }): Key {
  return { pk: `RES#${record.env}`, sk: `${record.service}#${record.kind}#${record.providerId}` };
}

function operationItem(record: OperationRecord): Item {
  return {
    pk: `OP#${record.id}`,
    sk: 'OP',
    itemType: 'operation',
    ...record,
    params: JSON.stringify(record.params),
    steps: JSON.stringify(record.steps),
  };
}

const nullable = <T>(value: unknown): T | null => (value === undefined ? null : (value as T | null));

function toService(item: Item): ServiceRecord {
  return {
    env: String(item.env),
    name: String(item.name),
    version: Number(item.version),
    currentRevision: nullable<number>(item.currentRevision),
    lastHealthyRevision: nullable<number>(item.lastHealthyRevision),
    generation: Number(item.generation),
    status: item.status as ServiceRecord['status'],
    createdAt: String(item.createdAt),
    updatedAt: String(item.updatedAt),
  };
}

function toRevision(item: Item): RevisionRecord {
  return {
    env: String(item.env),
    service: String(item.service),
    number: Number(item.number),
    spec: JSON.parse(String(item.spec)) as ServiceSpec,
    specHash: String(item.specHash),
    origin: JSON.parse(String(item.origin)) as RevisionRecord['origin'],
    createdAt: String(item.createdAt),
  };
}

function toOperation(item: Item): OperationRecord {
  return {
    id: String(item.id),
    env: String(item.env),
    service: String(item.service),
    kind: item.kind as OperationRecord['kind'],
    status: item.status as OperationStatus,
    revision: nullable<number>(item.revision),
    params: JSON.parse(String(item.params)) as Record<string, unknown>,
    steps: JSON.parse(String(item.steps)) as StepRecord[],
    leaseOwner: nullable<string>(item.leaseOwner),
    leaseExpiresAt: nullable<number>(item.leaseExpiresAt),
    fencingToken: Number(item.fencingToken),
    cancelRequested: item.cancelRequested === true,
    error: nullable<string>(item.error),
    createdAt: String(item.createdAt),
    startedAt: nullable<string>(item.startedAt),
    finishedAt: nullable<string>(item.finishedAt),
  };
}

function toResource(item: Item): ResourceRecord {
  return {
    env: String(item.env),
    service: String(item.service),
    kind: item.kind as ResourceKind,
    providerId: String(item.providerId),
    generation: Number(item.generation),
    attributes: JSON.parse(String(item.attributes)) as Record<string, unknown>,
    createdAt: String(item.createdAt),
    updatedAt: String(item.updatedAt),
  };
}

function toEvent(item: Item): EventRecord {
  return {
    seq: Number(item.seq),
    time: String(item.time),
    env: String(item.env),
    service: nullable<string>(item.service),
    operationId: nullable<string>(item.operationId),
    type: String(item.eventType),
    message: String(item.message),
    data:
      item.data === null || item.data === undefined
        ? null
        : (JSON.parse(String(item.data)) as Record<string, unknown>),
  };
}

function toAudit(item: Item): AuditRecord {
  return {
    id: Number(item.id),
    time: String(item.time),
    actor: String(item.actor),
    interface: item.interface as AuditRecord['interface'],
    env: String(item.env),
    identity: nullable<string>(item.identity),
    action: String(item.action),
    args: JSON.parse(String(item.args)) as Record<string, unknown>,
    result: String(item.result),
  };
}

function toLease(item: Item): LeaseRecord {
  return {
    name: String(item.name),
    owner: nullable<string>(item.owner),
    expiresAt: nullable<number>(item.expiresAt),
    token: Number(item.token),
  };
}
