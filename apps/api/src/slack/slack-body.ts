import type { NestFastifyApplication } from '@nestjs/platform-fastify';

/** Slack posts interactions with bodies far below this; the API's JSON limit stays as it is. */
const SLACK_BODY_LIMIT = 256 * 1024;

/**
 * Keeps application/x-www-form-urlencoded bodies as the raw bytes: Slack signs the bytes, so the
 * signature must be checked on them before anything is parsed. No other route takes this type;
 * the JSON parser is untouched. Call before `app.init()`.
 */
export function keepUrlencodedBodiesRaw(app: NestFastifyApplication): void {
  app.useBodyParser('application/x-www-form-urlencoded', { bodyLimit: SLACK_BODY_LIMIT }, (_request, body, done) => done(null, body));
}
