-- A browser session is a row of `sessions` like any other (so "sign out everywhere" and
-- revocation reach it), reached by the SHA-256 of its cookie secret instead of a JWT.
ALTER TABLE sessions ADD COLUMN cookie_hash TEXT;
CREATE UNIQUE INDEX sessions_cookie_hash ON sessions (cookie_hash);

-- A page's form answers a replayed submission with the same redirect as the first one.
ALTER TABLE idempotency_keys ADD COLUMN location TEXT;
