-- A replacement token is bound to one node: it may only re-enroll that node's hostname
-- (a reinstalled machine), and it goes with the node when the node is removed.
ALTER TABLE "EnrollmentToken" ADD COLUMN "nodeId" TEXT;

-- CreateIndex
CREATE INDEX "EnrollmentToken_nodeId_idx" ON "EnrollmentToken"("nodeId");

-- AddForeignKey
ALTER TABLE "EnrollmentToken" ADD CONSTRAINT "EnrollmentToken_nodeId_fkey" FOREIGN KEY ("nodeId") REFERENCES "Node"("id") ON DELETE CASCADE ON UPDATE CASCADE;
