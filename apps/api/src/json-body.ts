import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import secureJson from 'secure-json-parse';

/**
 * Deepest nesting of arrays and objects a request body may have. Bodies the API takes (promotions,
 * decisions, waivers, scanner reports, SBOMs) stay far below it; every walk over a body after the
 * parse (the NUL check, validation, canonical JSON) is recursive, so an unbounded depth would be a
 * stack overflow (a 500) waiting for a 50,000-deep body.
 */
export const MAX_JSON_DEPTH = 64;

class BodyError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The deepest nesting in JSON text, found in one pass without recursion; stops once past `limit`. */
export function jsonDepthOver(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

const SLACK_ROUTE = '/api/v1/slack/interactions';
/** Slack posts interactions with bodies far below this; the API's JSON limit stays as it is. */
const SLACK_BODY_LIMIT = 256 * 1024;

/**
 * The body parsers, replacing Fastify's: JSON with its depth bounded before anything walks it (and
 * prototype keys refused, as Fastify does), and form bodies only on the Slack route, kept as the raw
 * bytes Slack signed. Anywhere else a form body is a 415 (it used to reach the handlers as a Buffer),
 * and so is text/plain, which Fastify would otherwise hand over as a string.
 * Call before `app.init()`.
 */
export function useBodyParsers(app: NestFastifyApplication): void {
  // Fastify reads text/plain by default: no route takes it, so it is a 415 like any other type.
  app.getHttpAdapter().getInstance().removeContentTypeParser('text/plain');
  app.useBodyParser('application/json', {}, (_request, raw, done) => {
    const text = (raw as Buffer).toString('utf8');
    if (text.length === 0)
      return done(
        new BodyError(400, 'FST_ERR_CTP_EMPTY_JSON_BODY', 'the body is empty; send a JSON object (Content-Type: application/json)'),
        undefined,
      );
    if (jsonDepthOver(text, MAX_JSON_DEPTH)) {
      return done(new BodyError(400, 'JSON_TOO_DEEP', `the JSON body nests deeper than ${MAX_JSON_DEPTH} levels (the limit)`), undefined);
    }
    try {
      done(null, secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }));
    } catch (err) {
      done(new BodyError(400, 'FST_ERR_CTP_INVALID_JSON', `the body is not valid JSON: ${(err as Error).message}`), undefined);
    }
  });
  app.useBodyParser('application/x-www-form-urlencoded', { bodyLimit: SLACK_BODY_LIMIT }, (request, raw, done) => {
    if (request.routeOptions.url !== SLACK_ROUTE) {
      return done(
        new BodyError(
          415,
          'FST_ERR_CTP_INVALID_MEDIA_TYPE',
          'a form body (application/x-www-form-urlencoded) is taken only from Slack; send application/json',
        ),
        undefined,
      );
    }
    done(null, raw);
  });
}
