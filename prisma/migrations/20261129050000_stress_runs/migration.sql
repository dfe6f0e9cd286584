-- CreateEnum
CREATE TYPE "StressRunKind" AS ENUM ('load', 'capacity', 'step');

-- CreateEnum
CREATE TYPE "StressRunState" AS ENUM ('starting', 'running', 'passed', 'failed', 'aborted', 'partial', 'error');

-- CreateEnum
CREATE TYPE "StressPhase" AS ENUM ('warmup', 'measure');

-- CreateEnum
CREATE TYPE "StressParticipantState" AS ENUM ('assigned', 'running', 'done', 'refused', 'lost');

-- CreateTable
CREATE TABLE "StressRun" (
    "id" TEXT NOT NULL,
    "kind" "StressRunKind" NOT NULL DEFAULT 'load',
    "deploymentId" TEXT NOT NULL,
    "parentId" TEXT,
    "state" "StressRunState" NOT NULL DEFAULT 'starting',
    "reason" TEXT,
    "definition" JSONB NOT NULL,
    "results" JSONB,
    "startAt" TIMESTAMP(3) NOT NULL,
    "durationS" DOUBLE PRECISION NOT NULL,
    "createdByType" TEXT NOT NULL,
    "createdById" TEXT,
    "createdByName" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "StressRun_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "StressParticipant" (
    "runId" TEXT NOT NULL,
    "nodeId" TEXT NOT NULL,
    "hostname" TEXT NOT NULL,
    "endpointUrl" TEXT NOT NULL,
    "replicas" INTEGER NOT NULL,
    "share" DOUBLE PRECISION NOT NULL,
    "state" "StressParticipantState" NOT NULL DEFAULT 'assigned',
    "reason" TEXT,
    "reports" INTEGER NOT NULL DEFAULT 0,
    "lastSeq" INTEGER NOT NULL DEFAULT 0,
    "lastReportAt" TIMESTAMP(3),
    "sent" BIGINT NOT NULL DEFAULT 0,
    "completed" BIGINT NOT NULL DEFAULT 0,
    "errors" BIGINT NOT NULL DEFAULT 0,
    "late" BIGINT NOT NULL DEFAULT 0,
    "latencySketch" BYTEA,

    CONSTRAINT "StressParticipant_pkey" PRIMARY KEY ("runId","nodeId")
);

-- CreateTable
CREATE TABLE "StressInterval" (
    "runId" TEXT NOT NULL,
    "second" INTEGER NOT NULL,
    "intervalStart" TIMESTAMP(3) NOT NULL,
    "intervalEnd" TIMESTAMP(3) NOT NULL,
    "phase" "StressPhase" NOT NULL,
    "agents" INTEGER NOT NULL,
    "targetRps" DOUBLE PRECISION NOT NULL,
    "sent" INTEGER NOT NULL,
    "completed" INTEGER NOT NULL,
    "errors" INTEGER NOT NULL,
    "late" INTEGER NOT NULL,
    "latencySketch" BYTEA NOT NULL,
    "latencyMaxMs" DOUBLE PRECISION NOT NULL,
    "latencySumMs" DOUBLE PRECISION NOT NULL,

    CONSTRAINT "StressInterval_pkey" PRIMARY KEY ("runId","second")
);

-- CreateIndex
CREATE INDEX "StressRun_deploymentId_createdAt_idx" ON "StressRun"("deploymentId", "createdAt");

-- CreateIndex
CREATE INDEX "StressRun_state_idx" ON "StressRun"("state");

-- CreateIndex
CREATE INDEX "StressRun_parentId_idx" ON "StressRun"("parentId");

-- AddForeignKey
ALTER TABLE "StressRun" ADD CONSTRAINT "StressRun_deploymentId_fkey" FOREIGN KEY ("deploymentId") REFERENCES "Deployment"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "StressRun" ADD CONSTRAINT "StressRun_parentId_fkey" FOREIGN KEY ("parentId") REFERENCES "StressRun"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "StressParticipant" ADD CONSTRAINT "StressParticipant_runId_fkey" FOREIGN KEY ("runId") REFERENCES "StressRun"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "StressInterval" ADD CONSTRAINT "StressInterval_runId_fkey" FOREIGN KEY ("runId") REFERENCES "StressRun"("id") ON DELETE CASCADE ON UPDATE CASCADE;
