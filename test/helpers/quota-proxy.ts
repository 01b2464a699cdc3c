/**
 * A small fault-injecting proxy in front of moto that enforces what moto does not: AWS's quota of
 * listener rules per load balancer. Every request is passed through unchanged, except an ELBv2
 * CreateRule on a listener that already holds `rulesPerAlb` rules (the default rule not counted),
 * which gets AWS's own answer: HTTP 400, code TooManyRules. It counts the rules by asking moto
 * (DescribeRules) as the same account, so it sees rules made by anyone.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DescribeRulesCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { MetadataBearer, MiddlewareStack } from '@smithy/types';

import { TEST_REGION, useAccount } from './moto.js';

export interface QuotaProxy {
  endpoint: string;
  /** The rules quota enforced (may be changed while running). */
  rulesPerAlb: number;
  /** Limits DescribeAccountLimits reports instead of moto's own (by AWS's limit names). */
  accountLimits: Record<string, number>;
  /** CreateRule calls refused so far. */
  refused: number;
  close(): Promise<void>;
}

const TOO_MANY_RULES = `<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">
  <Error><Type>Sender</Type><Code>TooManyRules</Code><Message>You've reached the limit on the number of rules per load balancer</Message></Error>
  <RequestId>quota-proxy</RequestId>
</ErrorResponse>`;

const MOTO_LIMITS: Record<string, number> = {
  'application-load-balancers': 20,
  'target-groups': 3000,
  'rules-per-application-load-balancer': 100,
};

export async function startQuotaProxy(target: string, options: { rulesPerAlb: number }): Promise<QuotaProxy> {
  const clients = new Map<string, ElasticLoadBalancingV2Client>();
  const clientFor = (account: string) => {
    let client = clients.get(account);
    if (!client) {
      client = new ElasticLoadBalancingV2Client({
        region: TEST_REGION,
        endpoint: target,
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      });
      if (account)
        useAccount(client.middlewareStack as unknown as MiddlewareStack<object, MetadataBearer>, account);
      clients.set(account, client);
    }
    return client;
  };

  const proxy: QuotaProxy = {
    endpoint: '',
    rulesPerAlb: options.rulesPerAlb,
    accountLimits: {},
    refused: 0,
    close: async () => undefined,
  };
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const form = new URLSearchParams(
          (request.headers['content-type'] ?? '').includes('x-www-form-urlencoded') ? body.toString() : '',
        );
        if (form.get('Action') === 'CreateRule' && form.get('ListenerArn')) {
          const account = String(request.headers['x-moto-account-id'] ?? '');
          const rules = await clientFor(account).send(
            new DescribeRulesCommand({ ListenerArn: form.get('ListenerArn')!, PageSize: 400 }),
          );
          const count = (rules.Rules ?? []).filter((rule) => !rule.IsDefault).length;
          if (count >= proxy.rulesPerAlb) {
            proxy.refused += 1;
            response.writeHead(400, { 'content-type': 'text/xml' });
            response.end(TOO_MANY_RULES);
            return;
          }
        }
        if (form.get('Action') === 'DescribeAccountLimits' && Object.keys(proxy.accountLimits).length) {
          const limits = { ...MOTO_LIMITS, ...proxy.accountLimits };
          response.writeHead(200, { 'content-type': 'text/xml' });
          response.end(
            `<DescribeAccountLimitsResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><DescribeAccountLimitsResult><Limits>${Object.entries(
              limits,
            )
              .map(([name, max]) => `<member><Name>${name}</Name><Max>${max}</Max></member>`)
              .join(
                '',
              )}</Limits></DescribeAccountLimitsResult><ResponseMetadata><RequestId>quota-proxy</RequestId></ResponseMetadata></DescribeAccountLimitsResponse>`,
          );
          return;
        }
        const upstream = http.request(
          `${target}${request.url ?? '/'}`,
          { method: request.method, headers: request.headers },
          (reply) => {
            response.writeHead(reply.statusCode ?? 502, reply.headers);
            reply.pipe(response);
          },
        );
        upstream.on('error', (error) => {
          response.writeHead(502);
          response.end(String(error));
        });
        upstream.end(body);
      })().catch((error: unknown) => {
        response.writeHead(500);
        response.end(String(error));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = async () => {
    for (const client of clients.values()) client.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return proxy;
}
