-- Single sign-on: a sign-in started at the provider and not yet returned. Kept in the
-- database (not a server's memory) so the callback may land on any server, or after a restart.
CREATE TABLE "OidcSignIn" (
    "stateHash" TEXT NOT NULL,
    "codeVerifier" TEXT NOT NULL,
    "nonce" TEXT NOT NULL,
    "next" TEXT NOT NULL,
    "redirectUrl" TEXT NOT NULL,
    "expiresAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "OidcSignIn_pkey" PRIMARY KEY ("stateHash")
);

CREATE INDEX "OidcSignIn_expiresAt_idx" ON "OidcSignIn"("expiresAt");
