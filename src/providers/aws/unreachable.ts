/**
 * Turns an AWS call that cannot reach its endpoint, or keeps failing there (5xx, throttling after
 * every retry), into a ProviderUnavailableError naming the call and the endpoint, so that the
 * user reads "AWS ECS ListServices at https://ecs.eu-west-1.amazonaws.com failed: connection
 * refused" instead of a stack trace. Errors AWS answered with (4xx) pass through unchanged:
 * the drivers act on their names.
 */
import type {
  FinalizeRequestMiddleware,
  HttpRequest,
  InitializeMiddleware,
  MetadataBearer,
  MiddlewareStack,
} from '@smithy/types';

import { TransientError } from '../../core/errors.js';
import { networkFailure, ProviderUnavailableError } from '../../core/provider-errors.js';
import type { AwsService } from './throttle.js';

const SERVICE_NAMES: Record<AwsService, string> = {
  ecs: 'ECS',
  elbv2: 'ELBv2',
  route53: 'Route 53',
  ec2: 'EC2',
  sts: 'STS',
  dynamodb: 'DynamoDB',
  ssm: 'SSM',
  tagging: 'Resource Groups Tagging',
  logs: 'CloudWatch Logs',
};

const ENDPOINT = Symbol('berth endpoint');
type Context = { commandName?: string; [ENDPOINT]?: string };

function serverFailure(error: unknown): string | null {
  const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  return status !== undefined && status >= 500 ? `HTTP ${status}` : null;
}

/** Installs the translation; outermost, so it sees what is left once the throttle's retries are spent. */
export function installUnreachable<I extends object, O extends MetadataBearer>(
  stack: MiddlewareStack<I, O>,
  service: AwsService,
  fallbackEndpoint: string,
): void {
  const remember: FinalizeRequestMiddleware<I, O> = (next, context) => async (args) => {
    const request = args.request as HttpRequest;
    if (request?.hostname) {
      const port = request.port ? `:${request.port}` : '';
      (context as Context)[ENDPOINT] = `${request.protocol ?? 'https:'}//${request.hostname}${port}`;
    }
    return next(args);
  };
  const translate: InitializeMiddleware<I, O> = (next, context) => async (args) => {
    try {
      return await next(args);
    } catch (error) {
      const cause = error instanceof TransientError && error.cause !== undefined ? error.cause : error;
      const reason =
        networkFailure(cause) ??
        serverFailure(cause) ??
        (error instanceof TransientError ? error.message : null);
      if (reason === null) throw error;
      const command = ((context as Context).commandName ?? 'UnknownCommand').replace(/Command$/, '');
      const endpoint = (context as Context)[ENDPOINT] ?? fallbackEndpoint;
      // The throttle says how often it tried: "ecs ListServices failed 3 times: ...".
      const tries =
        error instanceof TransientError ? /(failed|throttled) (\d+) times/.exec(error.message) : null;
      const retried = tries
        ? tries[1] === 'failed'
          ? ` after ${tries[2]} attempts`
          : ` (throttled ${tries[2]} times)`
        : '';
      throw new ProviderUnavailableError(
        `AWS ${SERVICE_NAMES[service]} ${command}`,
        endpoint,
        `${reason}${retried}`,
        {
          cause: error,
        },
      );
    }
  };
  stack.add(remember, { step: 'finalizeRequest', name: 'berthRememberEndpoint', priority: 'low' });
  stack.add(translate, { step: 'initialize', name: 'berthUnreachable', priority: 'high' });
}
