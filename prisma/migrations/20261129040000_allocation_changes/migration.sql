-- CreateEnum
CREATE TYPE "AllocationChangeState" AS ENUM ('pending', 'applying', 'applied', 'rolled_back');

-- CreateEnum
CREATE TYPE "AllocationChangeSource" AS ENUM ('manual', 'plan', 'auto');

-- AlterTable
ALTER TABLE "Job" ADD COLUMN     "version" INTEGER NOT NULL DEFAULT 0;

-- CreateTable
CREATE TABLE "AllocationChange" (
    "id" TEXT NOT NULL,
    "state" "AllocationChangeState" NOT NULL DEFAULT 'pending',
    "source" "AllocationChangeSource" NOT NULL DEFAULT 'manual',
    "reason" TEXT NOT NULL,
    "actorType" TEXT NOT NULL,
    "actorId" TEXT,
    "actorName" TEXT NOT NULL,
    "idempotencyKey" TEXT,
    "requestHash" TEXT NOT NULL,
    "versions" JSONB NOT NULL,
    "nodes" JSONB NOT NULL DEFAULT '[]',
    "outcome" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "AllocationChange_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "AllocationMove" (
    "changeId" TEXT NOT NULL,
    "gpuId" TEXT NOT NULL,
    "fromDeploymentId" TEXT,
    "fromJobId" TEXT,
    "toDeploymentId" TEXT,
    "toJobId" TEXT,

    CONSTRAINT "AllocationMove_pkey" PRIMARY KEY ("changeId","gpuId")
);

-- CreateTable
CREATE TABLE "AutoPlannerSettings" (
    "id" INTEGER NOT NULL DEFAULT 1,
    "enabled" BOOLEAN NOT NULL DEFAULT false,
    "maxMovesPerInterval" INTEGER NOT NULL DEFAULT 8,
    "intervalS" INTEGER NOT NULL DEFAULT 60,
    "cooldownS" INTEGER NOT NULL DEFAULT 300,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "updatedBy" TEXT,

    CONSTRAINT "AutoPlannerSettings_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "AllocationChange_idempotencyKey_key" ON "AllocationChange"("idempotencyKey");

-- CreateIndex
CREATE INDEX "AllocationChange_createdAt_idx" ON "AllocationChange"("createdAt");

-- CreateIndex
CREATE INDEX "AllocationChange_state_idx" ON "AllocationChange"("state");

-- CreateIndex
CREATE INDEX "AllocationMove_gpuId_idx" ON "AllocationMove"("gpuId");

-- AddForeignKey
ALTER TABLE "AllocationMove" ADD CONSTRAINT "AllocationMove_changeId_fkey" FOREIGN KEY ("changeId") REFERENCES "AllocationChange"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AllocationMove" ADD CONSTRAINT "AllocationMove_gpuId_fkey" FOREIGN KEY ("gpuId") REFERENCES "Gpu"("id") ON DELETE CASCADE ON UPDATE CASCADE;
