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
 * | resource            | `RES#<env>`                 | `<service>#<kind>#<providerId>` |
 * | event / audit       | `EVENTS#<env>` / `AUDIT#<env>` | seq / id, 15 digits |
 * | seq counters        | `SEQ#events` / `SEQ#audit`  | `SEQ`                  |
 * | lease               | `LEASE#<name>`              | `LEASE`                |
 *
 * How the guarantees are kept without a lock:
 * - versions and fencing tokens are conditional writes (`ConditionExpression`);
 * - "one active operation per service" is the active-operation item, written with
 *   `attribute_not_exists` in the same TransactWriteItems as the operation, and deleted in the
 *   same transaction as the save that finishes it;
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

import { ConflictError, NotFoundError, UserError } from '../../core/errors.js';
import { isoTime, systemClock, type Clock } from '../../core/clock.js';
import type { ServiceSpec } from '../../spec/types.js';
import type { AwsConnection } from '../../providers/aws/clients.js';
import {
  ActiveOperationError,
  FencedError,
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
  type StateStore,
  type StepRecord,
} from '../store.js';
import { createDynamoClient, tableExists } from './table.js';

export interface DynamoStateStoreOptions {
  table: string;
  connection: AwsConnection;
  /** Source of the store's own timestamps. */
  clock?: Clock;
}

type Item = Record<string, unknown>;

const TERMINAL: ReadonlySet<OperationStatus> = new Set(['succeeded', 'failed', 'cancelled']);
/** TransactWriteItems takes at most 100 actions. */
const TRANSACT_LIMIT = 100;

export class DynamoStateStore implements StateStore {
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
    const item = await this.get(`ENV#${env}`, `SVC#${name}`);
    return item ? toService(item) : null;
  }

  async listServices(env: string): Promise<ServiceRecord[]> {
    const items = await this.query({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :svc)',
      ExpressionAttributeValues: { ':pk': `ENV#${env}`, ':svc': 'SVC#' },
    });
    return items.map(toService).filter((service) => service.status === 'active');
  }

  async putService(
    record: Omit<ServiceRecord, 'version'>,
    expectedVersion: number | null,
  ): Promise<ServiceRecord> {
    const version = (expectedVersion ?? 0) + 1;
    const stored: ServiceRecord = { ...pickService(record), version };
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: `ENV#${record.env}`, sk: `SVC#${record.name}`, itemType: 'service', ...stored },
          ...(expectedVersion === null
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : {
                ConditionExpression: '#version = :expected',
                ExpressionAttributeNames: { '#version': 'version' },
                ExpressionAttributeValues: { ':expected': expectedVersion },
              }),
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
                Key: { pk: `ENV#${env}`, sk: `SVC#${name}` },
                ConditionExpression: '#version = :expected',
                ExpressionAttributeNames: { '#version': 'version' },
                ExpressionAttributeValues: { ':expected': expectedVersion },
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
      if (actual === null) throw new NotFoundError(`service ${name} does not exist in ${env}`);
      if (actual !== expectedVersion) throw serviceConflict(env, name, expectedVersion, actual);
      throw error;
    }
    // More than a transaction holds (a service with 100+ resources): the rest go right after.
    await this.batchDelete(resources.slice(first.length).map(resourceKey));
  }

  // revisions

  async addRevision(input: Omit<RevisionRecord, 'number' | 'createdAt'>): Promise<RevisionRecord> {
    const pk = `REV#${input.env}#${input.service}`;
    for (let attempt = 0; ; attempt++) {
      const [latest] = await this.query({
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': pk },
        ScanIndexForward: false,
        Limit: 1,
      });
      const revision: RevisionRecord = {
        env: input.env,
        service: input.service,
        number: ((latest?.number as number | undefined) ?? 0) + 1,
        spec: input.spec,
        specHash: input.specHash,
        origin: input.origin,
        createdAt: this.nowIso(),
      };
      try {
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
      } catch (error) {
        // Someone else took this number: read the newest again and take the next.
        if (!(error instanceof ConditionalCheckFailedException) || attempt >= 100) throw error;
        await jitter(attempt);
      }
    }
  }

  async getRevision(env: string, service: string, number: number): Promise<RevisionRecord | null> {
    const item = await this.get(`REV#${env}#${service}`, pad(number, 10));
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

  async createOperation(input: Parameters<StateStore['createOperation']>[0]): Promise<OperationRecord> {
    const record: OperationRecord = {
      id: input.id,
      env: input.env,
      service: input.service,
      kind: input.kind,
      status: input.status,
      revision: input.revision,
      params: input.params,
      steps: input.steps,
      leaseOwner: null,
      leaseExpiresAt: null,
      fencingToken: 0,
      cancelRequested: false,
      error: null,
      createdAt: this.nowIso(),
      startedAt: null,
      finishedAt: null,
    };
    const active = !TERMINAL.has(record.status);
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
            ...(active
              ? [
                  {
                    Put: {
                      TableName: this.table,
                      Item: {
                        pk: activeKey(record.env, record.service).pk,
                        sk: 'ACTIVE',
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
      if (await this.get(`OP#${record.id}`, 'OP'))
        throw new ConflictError(`operation ${record.id} already exists`);
      const current = await this.getActiveOperation(record.env, record.service);
      if (current) throw new ActiveOperationError(current);
      throw error;
    }
    return record;
  }

  async getOperation(id: string): Promise<OperationRecord | null> {
    const item = await this.get(`OP#${id}`, 'OP');
    return item ? toOperation(item) : null;
  }

  async getActiveOperation(env: string, service: string): Promise<OperationRecord | null> {
    const marker = await this.get(activeKey(env, service).pk, 'ACTIVE');
    if (!marker) return null;
    const operation = await this.getOperation(String(marker.operationId));
    return operation && !TERMINAL.has(operation.status) ? operation : null;
  }

  async listOperations(env: string, service?: string, limit?: number): Promise<OperationRecord[]> {
    const max = limit === undefined ? Infinity : normalizeLimit(limit);
    if (max === 0) return [];
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
      },
      max,
    );
    const ids = index.slice(0, max).map((item) => String(item.id));
    const byId = new Map<string, OperationRecord>();
    for (let i = 0; i < ids.length; i += 100) {
      let keys: Item[] | undefined = ids.slice(i, i + 100).map((id) => ({ pk: `OP#${id}`, sk: 'OP' }));
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
    for (let attempt = 0; ; attempt++) {
      const current = await this.getOperation(id);
      if (!current || TERMINAL.has(current.status)) return null;
      const held =
        current.leaseOwner !== null &&
        current.leaseOwner !== owner &&
        current.leaseExpiresAt !== null &&
        current.leaseExpiresAt > nowMs;
      if (held) return null;
      try {
        const set = setExpression({
          status: current.status === 'pending' ? 'running' : current.status,
          startedAt: current.startedAt ?? isoTime(nowMs),
          leaseOwner: owner,
          leaseExpiresAt: nowMs + leaseMs,
          fencingToken: current.fencingToken + 1,
        });
        const out = await this.doc.send(
          new UpdateCommand({
            TableName: this.table,
            Key: { pk: `OP#${id}`, sk: 'OP' },
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
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException) || attempt >= 20) throw error;
        // Someone claimed or saved in between: decide again on what is stored now.
      }
    }
  }

  async saveOperation(record: OperationRecord, leaseMs: number, nowMs: number): Promise<void> {
    const terminal = TERMINAL.has(record.status);
    const set = setExpression({
      status: record.status,
      steps: JSON.stringify(record.steps),
      revision: record.revision,
      error: record.error,
      startedAt: record.startedAt,
      finishedAt: record.finishedAt,
      params: JSON.stringify(record.params),
      leaseExpiresAt: terminal ? null : nowMs + leaseMs,
      // A finished operation holds no lease; an unfinished one keeps its owner's.
      ...(terminal ? { leaseOwner: null } : {}),
    });
    const update = {
      TableName: this.table,
      Key: { pk: `OP#${record.id}`, sk: 'OP' },
      ConditionExpression: 'attribute_exists(pk) AND #c_token = :c_token',
      // cancelRequested is deliberately not written: a concurrent cancel must survive the save.
      UpdateExpression: set.expression,
      ExpressionAttributeNames: { ...set.names, '#c_token': 'fencingToken' },
      ExpressionAttributeValues: { ...set.values, ':c_token': record.fencingToken },
    };
    try {
      if (!terminal) {
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
          ],
        }),
      );
    } catch (error) {
      if (!(
        error instanceof ConditionalCheckFailedException || error instanceof TransactionCanceledException
      )) {
        throw error;
      }
      const stored = await this.getOperation(record.id);
      if (!stored) throw new NotFoundError(`operation ${record.id} does not exist`);
      if (stored.fencingToken !== record.fencingToken) throw new FencedError(record.id);
      throw error;
    }
  }

  async requestCancel(id: string): Promise<OperationRecord | null> {
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: `OP#${id}`, sk: 'OP' },
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
    const base: Omit<EventRecord, 'seq'> = {
      time: event.time === undefined ? this.nowIso() : normalizeTime(event.time, 'event time'),
      env: event.env,
      service: event.service,
      operationId: event.operationId,
      type: event.type,
      message: event.message,
      data: event.data,
    };
    const seq = await this.appendNumbered('events', (n) => ({
      pk: `EVENTS#${base.env}`,
      sk: pad(n, 15),
      itemType: 'event',
      seq: n,
      ...base,
      eventType: base.type,
      type: undefined,
      data: base.data === null ? null : JSON.stringify(base.data),
    }));
    return { seq, ...base };
  }

  async listEvents(query: EventQuery): Promise<EventRecord[]> {
    const max = query.limit === undefined ? Infinity : normalizeLimit(query.limit);
    if (max === 0) return [];
    const filters: string[] = [];
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const add = (field: string, op: string, value: unknown) => {
      const key = `:${field}${op === '>=' ? 'Since' : op === '<=' ? 'Until' : ''}`;
      names[`#${field}`] = field;
      values[key] = value;
      filters.push(`#${field} ${op} ${key}`);
    };
    if (query.service !== undefined) add('service', '=', query.service);
    if (query.operationId !== undefined) add('operationId', '=', query.operationId);
    if (query.since !== undefined) add('time', '>=', normalizeTime(query.since, 'since'));
    if (query.until !== undefined) add('time', '<=', normalizeTime(query.until, 'until'));
    let items: Item[];
    if (query.env !== undefined) {
      items = await this.query(
        {
          KeyConditionExpression: query.afterSeq !== undefined ? 'pk = :pk AND sk > :after' : 'pk = :pk',
          ...withFilter(filters, names),
          ExpressionAttributeValues: {
            ...values,
            ':pk': `EVENTS#${query.env}`,
            ...(query.afterSeq !== undefined
              ? { ':after': pad(Math.max(0, Math.floor(query.afterSeq)), 15) }
              : {}),
          },
        },
        max,
      );
    } else {
      // Across environments: a scan (rare: timelines over every environment).
      if (query.afterSeq !== undefined) add('seq', '>', query.afterSeq);
      items = (await this.scan('event', filters, names, values)).sort(
        (a, b) => Number(a.seq) - Number(b.seq),
      );
    }
    return items.slice(0, max).map(toEvent);
  }

  async appendAudit(entry: NewAudit): Promise<AuditRecord> {
    const base: Omit<AuditRecord, 'id'> = {
      time: entry.time === undefined ? this.nowIso() : normalizeTime(entry.time, 'audit time'),
      actor: entry.actor,
      interface: entry.interface,
      env: entry.env,
      identity: entry.identity,
      action: entry.action,
      args: entry.args,
      result: entry.result,
    };
    const id = await this.appendNumbered('audit', (n) => ({
      pk: `AUDIT#${base.env}`,
      sk: pad(n, 15),
      itemType: 'audit',
      id: n,
      ...base,
      args: JSON.stringify(base.args),
    }));
    return { id, ...base };
  }

  async listAudit(query: {
    env?: string;
    since?: string;
    until?: string;
    limit?: number;
  }): Promise<AuditRecord[]> {
    const max = query.limit === undefined ? Infinity : normalizeLimit(query.limit);
    if (max === 0) return [];
    const filters: string[] = [];
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    if (query.since !== undefined) {
      names['#time'] = 'time';
      values[':since'] = normalizeTime(query.since, 'since');
      filters.push('#time >= :since');
    }
    if (query.until !== undefined) {
      names['#time'] = 'time';
      values[':until'] = normalizeTime(query.until, 'until');
      filters.push('#time <= :until');
    }
    const items =
      query.env !== undefined
        ? await this.query(
            {
              KeyConditionExpression: 'pk = :pk',
              ...withFilter(filters, names),
              ExpressionAttributeValues: { ...values, ':pk': `AUDIT#${query.env}` },
            },
            max,
          )
        : (await this.scan('audit', filters, names, values)).sort((a, b) => Number(a.id) - Number(b.id));
    return items.slice(0, max).map(toAudit);
  }

  // leases

  async acquireLease(name: string, owner: string, ttlMs: number, nowMs: number): Promise<LeaseRecord | null> {
    for (let attempt = 0; ; attempt++) {
      const item = await this.get(`LEASE#${name}`, 'LEASE');
      const current = item ? toLease(item) : null;
      const live =
        current !== null && current.owner !== null && current.expiresAt !== null && current.expiresAt > nowMs;
      if (live && current.owner !== owner) return null;
      // A renewal by the live holder keeps its term; anything else starts a new one.
      const token = live ? current.token : (current?.token ?? 0) + 1;
      const lease: LeaseRecord = { name, owner, expiresAt: nowMs + ttlMs, token };
      const revision = Number(item?.revision ?? 0);
      try {
        await this.doc.send(
          new PutCommand({
            TableName: this.table,
            Item: { pk: `LEASE#${name}`, sk: 'LEASE', itemType: 'lease', ...lease, revision: revision + 1 },
            // Whatever we decided on must still be what is stored: one of concurrent writers wins.
            ConditionExpression: item ? '#revision = :revision' : 'attribute_not_exists(pk)',
            ...(item
              ? {
                  ExpressionAttributeNames: { '#revision': 'revision' },
                  ExpressionAttributeValues: { ':revision': revision },
                }
              : {}),
          }),
        );
        return lease;
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException) || attempt >= 20) throw error;
      }
    }
  }

  async releaseLease(name: string, owner: string): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: `LEASE#${name}`, sk: 'LEASE' },
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
    const item = await this.get(`LEASE#${name}`, 'LEASE');
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

  private async get(pk: string, sk: string): Promise<Item | null> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: { pk, sk }, ConsistentRead: true }),
    );
    return (out.Item as Item | undefined) ?? null;
  }

  /** Every item a query matches (all pages, consistent), or the first `max` of them. */
  private async query(input: Omit<QueryCommandInput, 'TableName'>, max = Infinity): Promise<Item[]> {
    const items: Item[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.doc.send(
        new QueryCommand({ ...input, TableName: this.table, ConsistentRead: true, ExclusiveStartKey: start }),
      );
      items.push(...((out.Items as Item[] | undefined) ?? []));
      start = out.LastEvaluatedKey;
      // A `Limit` in the input means "one page": the caller asked for that many at most.
    } while (start && items.length < max && input.Limit === undefined);
    return items;
  }

  private async scan(
    itemType: string,
    filters: string[],
    names: Record<string, string>,
    values: Record<string, unknown>,
  ): Promise<Item[]> {
    const items: Item[] = [];
    let start: Record<string, unknown> | undefined;
    const input: ScanCommandInput = {
      TableName: this.table,
      ConsistentRead: true,
      FilterExpression: ['#itemType = :itemType', ...filters].join(' AND '),
      ExpressionAttributeNames: { ...names, '#itemType': 'itemType' },
      ExpressionAttributeValues: { ...values, ':itemType': itemType },
    };
    do {
      const out = await this.doc.send(new ScanCommand({ ...input, ExclusiveStartKey: start }));
      items.push(...((out.Items as Item[] | undefined) ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
  }

  /**
   * Writes the item numbered next in `counter` (events, audit): reads the counter, then in one
   * transaction advances it by compare-and-swap and puts the item. A writer that lost the race
   * reads again and takes the next number.
   */
  private async appendNumbered(counter: string, itemFor: (n: number) => Item): Promise<number> {
    const key = { pk: `SEQ#${counter}`, sk: 'SEQ' };
    for (let attempt = 0; ; attempt++) {
      const current = Number((await this.get(key.pk, key.sk))?.value ?? 0);
      const next = current + 1;
      try {
        await this.doc.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Put: {
                  TableName: this.table,
                  Item: { ...key, itemType: 'counter', value: next },
                  ConditionExpression: current === 0 ? 'attribute_not_exists(pk)' : '#value = :current',
                  ...(current === 0
                    ? {}
                    : {
                        ExpressionAttributeNames: { '#value': 'value' },
                        ExpressionAttributeValues: { ':current': current },
                      }),
                },
              },
              { Put: { TableName: this.table, Item: itemFor(next) } },
            ],
          }),
        );
        return next;
      } catch (error) {
        if (!(error instanceof TransactionCanceledException) || attempt >= 200) throw error;
        await jitter(attempt);
      }
    }
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

function withFilter(filters: string[], names: Record<string, string>) {
  if (filters.length === 0) return {};
  return { FilterExpression: filters.join(' AND '), ExpressionAttributeNames: names };
}

async function jitter(attempt: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(100, 5 * (attempt + 1))));
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function activeKey(env: string, service: string) {
  return { pk: `ACTIVE#${env}#${service}`, sk: 'ACTIVE' };
}

function resourceKey(record: { env: string; service: string; kind: ResourceKind; providerId: string }) {
  return { pk: `RES#${record.env}`, sk: `${record.service}#${record.kind}#${record.providerId}` };
}

function serviceConflict(
  env: string,
  name: string,
  expected: number | null,
  actual: number | null,
): ConflictError {
  const what =
    expected === null
      ? `already exists (version ${actual})`
      : actual === null
        ? `no longer exists (expected version ${expected})`
        : `was changed by someone else (expected version ${expected}, found version ${actual})`;
  return new ConflictError(`service ${name} in ${env} ${what}`, {
    hint: 'read it again and retry; another deploy or command wrote it first',
  });
}

function normalizeTime(value: string, what: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new TypeError(`${what} is not an ISO time: ${JSON.stringify(value)}`);
  return isoTime(ms);
}

function normalizeLimit(limit: number): number {
  return Math.max(0, Math.floor(limit));
}

function pickService(record: Omit<ServiceRecord, 'version'>): Omit<ServiceRecord, 'version'> {
  return {
    env: record.env,
    name: record.name,
    currentRevision: record.currentRevision,
    lastHealthyRevision: record.lastHealthyRevision,
    generation: record.generation,
    status: record.status,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
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
