-- Single sign-on: a user created by an OpenID provider is known by (issuer, subject).
ALTER TABLE "User" ADD COLUMN "externalIssuer" TEXT;
ALTER TABLE "User" ADD COLUMN "externalSubject" TEXT;

CREATE UNIQUE INDEX "User_externalIssuer_externalSubject_key" ON "User"("externalIssuer", "externalSubject");
