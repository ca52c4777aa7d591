/**
 * Why this file exists: what the coordinator does when a job's chunks change outside a commit (the claim
 * service's refusals, failures and lost attempts, a staged move retried, the disk guard): the job finisher
 * checks whether the job ends, and the dispatcher runs a pass. A claim refused to its agent (blocklisted,
 * ineligible, not enrolled) only sends its chunk from queued back to pending, and a speculative copy refused ("copy not
 * wanted") only clears the copy's dispatch: the job's open chunks are as they were, so
 * only the pass is needed, not the finisher's read of the job's counts (`jobMayEnd` false).
 */
export function claimChanges(finisher: { check(jobId: string): void }, dispatcher: { kick(): void }): (jobId: string, jobMayEnd?: boolean) => void {
  return (jobId, jobMayEnd = true) => {
    if (jobMayEnd) finisher.check(jobId);
    dispatcher.kick();
  };
}
