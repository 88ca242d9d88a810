/**
 * The one way our small HTTP surfaces (exec-healthz, kube2sky, skydns's metrics port) start and stop:
 * an express app that owns routing, listening on host:port.
 */
import http from 'node:http';
import express from 'express';
import type { Express, NextFunction, Request, Response } from 'express';

export type { Express, Request, Response };

/**
 * An express app routing like the hand-written servers did: exact, case-sensitive paths
 * ("/healthz/" and "/HEALTHZ" are 404, as in the Go originals), every method on a route,
 * and no headers the old servers did not send (X-Powered-By, ETag).
 */
export function plainApp(): Express {
  const app = express();
  // Router options are read when the first route is added, so these must come first.
  app.set('strict routing', true);
  app.set('case sensitive routing', true);
  app.disable('x-powered-by');
  app.disable('etag');
  return app;
}

/**
 * A route matching exactly this path, character for character. Operator-supplied paths
 * (PROMETHEUS_PATH) must not be read as express patterns, where ':', '*', '(' and '{' mean something.
 */
export function exactPath(path: string): RegExp {
  return new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`);
}

/** Answers with a status, a content type and a text body, written the way the old handlers wrote them. */
export function sendText(res: Response, status: number, contentType: string | undefined, body: string): void {
  res.writeHead(status, contentType === undefined ? {} : { 'Content-Type': contentType });
  res.end(body);
}

/**
 * Ends the route table: Go's "404 page not found" for any other path, and a plain-text 500
 * instead of express's HTML error page (which would show a stack trace) when a handler throws.
 */
export function finishRoutes(app: Express, contentType: string): void {
  app.use((_req: Request, res: Response) => sendText(res, 404, contentType, '404 page not found\n'));
  app.use((err: Error, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    sendText(res, 500, contentType, `${err.message}\n`);
  });
}

/** Listens on host:port (host undefined: all interfaces); rejects when the address cannot be bound. */
export function listen(app: Express, host: string | undefined, port: number): Promise<http.Server> {
  const srv = http.createServer(app);
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen({ host, port }, () => {
      srv.off('error', reject);
      resolve(srv);
    });
  });
}

/** Stops listening; Node 20's close() also drops idle keep-alive connections, so a stop does not wait for clients. */
export function close(srv: http.Server | null | undefined): Promise<void> {
  if (!srv || !srv.listening) return Promise.resolve();
  return new Promise((resolve) => srv.close(() => resolve()));
}
