// Backline's typed client: `paths` comes from the server's OpenAPI description (regenerate
// with `npm run generate` after fetching `/api/openapi.json` into openapi.json), so a request
// or response that does not match the API fails to compile.
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema.js";

export type { components, paths };
export type Schemas = components["schemas"];
/** The RFC 9457 problem document every error response carries. */
export type Problem = Schemas["Problem"];

export interface ClientOptions {
  /** Where Backline runs, e.g. `http://localhost:8080`. */
  baseUrl: string;
  /** An access token or API key; sent as `Authorization: Bearer …`. */
  token?: string | (() => string | undefined);
  fetch?: typeof globalThis.fetch;
}

/** A client for every operation of the API, typed by path, method, parameters and bodies. */
export function createBacklineClient(options: ClientOptions) {
  const client = createClient<paths>({ baseUrl: options.baseUrl, fetch: options.fetch });
  const auth: Middleware = {
    onRequest({ request }) {
      const token = typeof options.token === "function" ? options.token() : options.token;
      if (token && !request.headers.has("authorization")) {
        request.headers.set("authorization", `Bearer ${token}`);
      }
      return request;
    },
  };
  client.use(auth);
  return client;
}

export type BacklineClient = ReturnType<typeof createBacklineClient>;
